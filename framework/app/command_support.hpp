#pragma once
// What the commands of the `narrow` program share: option parsing with --help, the plugin
// registry, the checks of options several commands take, and reading their input files.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/dataset.hpp"
#include "narrow/format.hpp"
#include "narrow/metrics.hpp"
#include "narrow/registry.hpp"
#include "narrow/store.hpp"
#include "run/experiment.hpp"
#include "run/loader.hpp"
#include "run/runs.hpp"

namespace narrow::cli {

/// Parses `args` with `opts` (and `pos`, when given). With --help, prints "usage: " and
/// `usage_line`, then the options, on stdout and returns false; the caller returns 0.
bool parse(const std::vector<std::string>& args,
           const boost::program_options::options_description& opts,
           boost::program_options::variables_map& vm, const char* usage_line,
           const boost::program_options::positional_options_description* pos = nullptr);

/// The options commands share, each declared here once; a command adds them where its --help
/// lists them. --help, then --threads (its default: default_threads(); `help` says what the
/// threads do), --json (`help` says what it prints) and --plugins (NARROW_PLUGIN_PATH's
/// folders and files for one command).
void add_help_option(boost::program_options::options_description& opts);
void add_threads_option(boost::program_options::options_description& opts, int& threads,
                        const char* help);
void add_json_option(boost::program_options::options_description& opts,
                     const char* help = "print one JSON object on stdout");
void add_plugins_option(boost::program_options::options_description& opts,
                        std::vector<std::string>& paths,
                        const char* help = "also load plugins from this folder or file");

/// NAME=VALUE options (--param, --data) as a map; InputError "OPTION 'ENTRY' must be
/// NAME=VALUE" for an entry without a name and '='.
std::map<std::string, std::string> param_map(const std::vector<std::string>& kvs,
                                             const char* option = "--param");

/// The registry of this process with what loaded it.
struct LoadedPlugins {
  Registry& registry;
  PluginLoader loader;
};

/// Loads the default plugins and the `extra` paths (--plugins) into the registry of this
/// process. Plugin libraries that fail are reported on stderr as warnings; the others are used.
LoadedPlugins load_plugins(const std::vector<std::string>& extra);

/// load_plugins(extra).registry.
Registry& load_registry(const std::vector<std::string>& extra);

/// The registry to read a stored run with: the --plugins `extra` and the run's own plugins
/// (its experiment's `plugins:`, stored_plugin_paths), so that its device rebuilds.
Registry& load_run_registry(std::vector<std::string> extra, const Store& store);

/// With --only (`vm` has "only"): the units run `only` of `runs` used (run_unit_keys), after
/// require_run refused an id that is not a run of `db`; without it, nothing (every run).
std::optional<std::set<std::string>> only_run_units(const boost::program_options::variables_map& vm,
                                                    const std::string& only, const Store& store,
                                                    const std::vector<StoredRun>& runs,
                                                    const std::string& db);

/// Validates the experiment `file` with `sets` overrides (a new loader for its plugin paths).
/// `--seeds 1,2,3`: the experiment's `seeds` from the command line, as one more --set
/// ("seeds=[1,2,3]"); an empty text adds nothing. A malformed list is an InputError.
void add_seeds_option(boost::program_options::options_description& opts, std::string& seeds);
void add_seeds_set(const std::string& seeds, std::vector<std::string>& sets);

Experiment load_experiment(Registry& registry, const std::string& file,
                           const std::vector<std::string>& sets);

/// The default of --threads: the hardware's threads, at least 1.
int default_threads();

/// InputError "OPTION VALUE must be in LOW..HIGH" unless `value` is in that range.
void check_range(const char* option, std::int64_t value, std::int64_t low, std::int64_t high);

/// check_range("--threads", threads, 1, 1024).
void check_threads(int threads);

/// The rounding mode named by --rounding; InputError naming the valid ones otherwise.
Rounding rounding_option(const std::string& text);

/// "" for 1, "s" otherwise.
const char* plural(std::int64_t n);

/// Prints `j` on stdout, indented by 2, and a newline.
void print_json(const nlohmann::json& j);

/// A file's bytes; InputError "cannot read WHAT 'PATH'" when it cannot be opened.
std::string read_file(const std::string& path, const char* what);

/// An architecture JSON file; a bad file is an InputError naming it.
Architecture read_architecture_file(const std::string& path);

/// The model of `train` and `evaluate`: an architecture file, or a reference model of a space
/// (its first when `reference` is empty). `what` names it for messages.
Architecture architecture_from_options(Registry& reg, const std::string& arch_file,
                                       const std::string& space_name, std::string reference,
                                       const std::vector<std::string>& params, std::string& what);

/// The dataset of --dataset NAME (default idx) and `data` (NAME=VALUE; `option` names them
/// in errors), split with the seed derived from `seed` as a run derives it.
DatasetSpec dataset_from_options(const std::string& name, const std::vector<std::string>& data,
                                 std::uint64_t seed, const char* option);

/// The results store at `path`; InputError when there is no such file.
std::unique_ptr<Store> open_store(const std::string& path);

/// The store file of a RUN argument: RUN/results.db for a run folder, else RUN itself.
std::string run_store_path(const std::string& run);


/// A count with a unit prefix for reading: 1234567 -> "1.23M".
std::string human(std::int64_t x);

/// One line per metric: name, value, human value.
void print_metrics(const Metrics& m);

}  // namespace narrow::cli
