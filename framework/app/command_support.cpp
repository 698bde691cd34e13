#include "command_support.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/errors.hpp"
#include "narrow/name_lists.hpp"
#include "run/model_table.hpp"
#include "run/runner.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace narrow::cli {

bool parse(const std::vector<std::string>& args, const po::options_description& opts,
           po::variables_map& vm, const char* usage_line,
           const po::positional_options_description* pos) {
  po::command_line_parser parser(args);
  parser.options(opts);
  if (pos) parser.positional(*pos);
  po::store(parser.run(), vm);
  if (vm.count("help")) {
    std::cout << "usage: " << usage_line << "\n\n" << opts << "\n";
    return false;
  }
  po::notify(vm);
  return true;
}

void add_help_option(po::options_description& opts) {
  opts.add_options()("help,h", "show this help");
}

void add_threads_option(po::options_description& opts, int& threads, const char* help) {
  threads = default_threads();
  opts.add_options()("threads", po::value(&threads)->default_value(threads), help);
}

void add_json_option(po::options_description& opts, const char* help) {
  opts.add_options()("json", help);
}

void add_plugins_option(po::options_description& opts, std::vector<std::string>& paths,
                        const char* help) {
  opts.add_options()("plugins", po::value(&paths)->composing(), help);
}

std::map<std::string, std::string> param_map(const std::vector<std::string>& kvs,
                                             const char* option) {
  std::map<std::string, std::string> m;
  for (const auto& kv : kvs) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError(fmt::format("{} '{}' must be NAME=VALUE", option, kv));
    m[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return m;
}

LoadedPlugins load_plugins(const std::vector<std::string>& extra) {
  static Registry registry;
  LoadedPlugins plugins{registry, PluginLoader(registry)};
  plugins.loader.load_defaults();
  for (const auto& p : extra) plugins.loader.load_path(p);
  for (const auto& f : plugins.loader.failures()) fmt::print(stderr, "warning: {}\n", f.error);
  return plugins;
}

Registry& load_registry(const std::vector<std::string>& extra) {
  return load_plugins(extra).registry;
}

Registry& load_run_registry(std::vector<std::string> extra, const Store& store) {
  for (auto& p : stored_plugin_paths(store)) extra.push_back(std::move(p));
  return load_registry(extra);
}

std::optional<std::set<std::string>> only_run_units(const boost::program_options::variables_map& vm,
                                                    const std::string& only, const Store& store,
                                                    const std::vector<StoredRun>& runs,
                                                    const std::string& db) {
  if (!vm.count("only")) return std::nullopt;
  require_run(runs, only, db);
  return run_unit_keys(store, only);
}

void add_seeds_option(boost::program_options::options_description& opts, std::string& seeds) {
  opts.add_options()("seeds", boost::program_options::value(&seeds),
                     "repeat the experiment and every ablation variant under each of these "
                     "seeds (comma list, e.g. 1,2,3; the file's 'seeds')");
}

void add_seeds_set(const std::string& seeds, std::vector<std::string>& sets) {
  if (seeds.empty()) return;
  const auto items = comma_list(seeds);
  if (items.empty() || std::any_of(items.begin(), items.end(), [](const std::string& item) {
        return item.find_first_not_of("0123456789") != std::string::npos;
      }))
    throw InputError(fmt::format(
        "--seeds '{}': expected a comma list of integers 0..2^64-1, e.g. 1,2,3", seeds));
  sets.push_back(fmt::format("seeds=[{}]", fmt::join(items, ",")));
}

Experiment load_experiment(Registry& registry, const std::string& file,
                           const std::vector<std::string>& sets) {
  PluginLoader loader(registry);
  return Experiment::load(file, sets, registry, loader);
}

int default_threads() {
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

void check_range(const char* option, std::int64_t value, std::int64_t low, std::int64_t high) {
  if (value < low || value > high)
    throw InputError(fmt::format("{} {} must be in {}..{}", option, value, low, high));
}

void check_threads(int threads) {
  check_range("--threads", threads, 1, 1024);
}

Rounding rounding_option(const std::string& text) {
  Rounding mode{};
  if (!parse_rounding(text, mode)) {
    std::vector<std::string> names;
    for (Rounding r : all_roundings()) names.emplace_back(rounding_name(r));
    throw InputError(
        fmt::format("unknown rounding '{}' (valid: {})", text, fmt::join(names, ", ")));
  }
  return mode;
}

const char* plural(std::int64_t n) {
  return n == 1 ? "" : "s";
}

void print_json(const json& j) {
  std::cout << j.dump(2) << "\n";
}

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("cannot read {} '{}'", what, path));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Architecture read_architecture_file(const std::string& path) {
  const std::string text = read_file(path, "architecture file");
  try {
    return Architecture::from_json_string(text);
  } catch (const InvalidArchitecture& e) {
    throw InputError(e.what(), SourceLocation{path});
  }
}

Architecture architecture_from_options(Registry& reg, const std::string& arch_file,
                                       const std::string& space_name, std::string reference,
                                       const std::vector<std::string>& params, std::string& what) {
  if (!arch_file.empty()) {
    what = arch_file;
    return read_architecture_file(arch_file);
  }
  auto space = reg.create_space(space_name, param_map(params));
  if (reference.empty()) {
    if (space->references().empty())
      throw InputError(fmt::format("space '{}' names no reference model", space_name));
    reference = space->references().front();
  }
  Architecture arch = space->build(space->reference(reference));
  arch.finalize();
  what = fmt::format("{} reference {}", space_name, reference);
  return arch;
}

DatasetSpec dataset_from_options(const std::string& name, const std::vector<std::string>& data,
                                 std::uint64_t seed, const char* option) {
  DatasetSpec dataset;
  if (!name.empty()) dataset.name = name;
  dataset.parameters = param_map(data, option);
  dataset.seed = dataset_split_seed(seed);
  return dataset;
}

std::unique_ptr<Store> open_store(const std::string& path) {
  if (!std::filesystem::exists(path))
    throw InputError(fmt::format("results store '{}' does not exist", path));
  return Store::open(path);
}

std::string run_store_path(const std::string& run) {
  return std::filesystem::is_directory(run) ? (std::filesystem::path(run) / "results.db").string()
                                            : run;
}

std::string human(std::int64_t x) {
  const char* units[] = {"", "k", "M", "G", "T"};
  double v = double(x);
  int u = 0;
  while (std::abs(v) >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? std::to_string(x) : fmt::format("{:.3g}{}", v, units[u]);
}

void print_metrics(const Metrics& m) {
  for (auto name : metric_names)
    fmt::print("  {:<22} {:>14}  ({})\n", name, m.get(name), human(m.get(name)));
}

}  // namespace narrow::cli
