#include "commands.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "run/experiment.hpp"
#include "run/loader.hpp"
#include "narrow/metrics.hpp"
#include "narrow/progress.hpp"
#include "narrow/registry.hpp"
#include "run/runner.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"
#include "narrow/hash.hpp"
#include "narrow/store.hpp"
#include "narrow/training.hpp"
#include "run/torch_engine.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;

namespace narrow::cli {

std::map<std::string, std::string> param_map(const std::vector<std::string>& kvs) {
  std::map<std::string, std::string> m;
  for (const auto& kv : kvs) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InputError(fmt::format("--param '{}' must be NAME=VALUE", kv));
    m[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return m;
}

namespace {

// ------------------------------------------------------------------ shared helpers

/// Parses options; prints help and returns false when --help was given.
bool parse(const std::vector<std::string>& args, const po::options_description& opts,
           po::variables_map& vm, const char* usage_line,
           const po::positional_options_description* pos = nullptr) {
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

/// The registry of this process, with the default plugins and `extra` paths loaded. Plugin
/// libraries that fail are reported on stderr as warnings; the others are used.
Registry& load_registry(const std::vector<std::string>& extra,
                        std::vector<LoadedLibrary>* seen = nullptr) {
  static Registry registry;
  PluginLoader loader(registry);
  loader.load_defaults();
  for (const auto& p : extra) loader.load_path(p);
  for (const auto& f : loader.failures()) fmt::print(stderr, "warning: {}\n", f.error);
  if (seen) *seen = loader.libraries();
  return registry;
}

json metrics_json(const Metrics& m) {
  json j = json::object();
  for (auto name : metric_names) j[std::string(name)] = m.get(name);
  return j;
}

json variables_json(const SearchSpace& space) {
  json vars = json::array();
  const auto& vs = space.variables();
  for (const auto& v : vs) {
    json j = v.to_json();
    if (v.depends_on >= 0)
      j["depends_on"] = {{"variable", vs[std::size_t(v.depends_on)].name}, {"min", v.depends_min}};
    vars.push_back(std::move(j));
  }
  return vars;
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

void print_architecture(const Architecture& a) {
  fmt::print("{}", architecture_table(a));
}

/// An architecture JSON file; a bad file is an InputError naming it.
Architecture read_architecture_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("cannot read architecture file '{}'", path));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return Architecture::from_json_string(text);
  } catch (const InvalidArchitecture& e) {
    throw InputError(e.what(), SourceLocation{path});
  }
}

/// The model of `train` and `evaluate`: an architecture file, or a reference model of a space
/// (its first when `reference` is empty). `what` names it for messages.
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

// ------------------------------------------------------------------ plugins

int cmd_plugins(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::vector<std::string> paths;
  opts.add_options()("help,h", "show this help")(
      "json", "print a JSON array on stdout: kind, name, version, library, parameters")(
      "plugins", po::value(&paths)->composing(),
      "also load plugins from this folder or file (repeatable)");
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow plugins [--json] [--plugins PATH]...\n\n"
             "Lists every plugin found: in the plugin folder of this narrow, in\n"
             "NARROW_PLUGIN_PATH and in the --plugins paths. Libraries that cannot\n"
             "be used are reported on stderr, one line each."))
    return 0;
  std::vector<LoadedLibrary> libs;
  Registry& reg = load_registry(paths, &libs);
  if (vm.count("json")) {
    json out = json::array();
    for (const Registration* r : reg.all()) {
      json params = json::array();
      for (const auto& p : r->schema) params.push_back(p.to_json());
      out.push_back({{"kind", std::string(kind_name(r->kind))},
                     {"name", r->name},
                     {"version", r->plugin_version},
                     {"plugin", r->plugin},
                     {"library", r->library},
                     {"help", r->help},
                     {"parameters", params}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  auto all = reg.all();
  if (all.empty())
    fmt::print("no plugins found (looked in: {})\n",
               fmt::join(PluginLoader::default_paths(), ", "));
  for (const Registration* r : all) {
    fmt::print("{} {} {} — {}\n  library: {}\n", kind_name(r->kind), r->name, r->plugin_version,
               r->help, r->library);
    for (const auto& p : r->schema) {
      std::string allowed = p.allowed().empty() ? "" : " (" + p.allowed() + ")";
      fmt::print("    {:<18} {:<9} default {}{}: {}\n", p.name, param_type_name(p.type),
                 to_string(p.default_value), allowed, p.help);
    }
  }
  return 0;
}

// ------------------------------------------------------------------ describe

int cmd_describe(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string space_name, reference, arch_file;
  std::vector<std::string> params, paths;
  opts.add_options()("help,h", "show this help")("space", po::value(&space_name),
                                                 "search space name")(
      "param", po::value(&params)->composing(), "space parameter NAME=VALUE (repeatable)")(
      "reference", po::value(&reference)->implicit_value(""),
      "show a reference model of the space (default: the first one)")(
      "arch", po::value(&arch_file), "analyse an architecture JSON file instead of a space")(
      "json", "print one JSON object on stdout")("plugins", po::value(&paths)->composing(),
                                                 "also load plugins from this folder or file");
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow describe --space NAME [--param K=V]... [--reference [REF]] [--json]\n"
             "       narrow describe --arch FILE.json [--json]\n\n"
             "Shows a space's variables with their bounds and its reference models, or a\n"
             "reference's architecture with its metrics."))
    return 0;
  const bool as_json = vm.count("json") > 0;

  if (!arch_file.empty()) {
    const Architecture a = read_architecture_file(arch_file);
    auto m = analyse(a);
    if (as_json) {
      std::cout << json{{"architecture", a.to_json()},
                        {"hash", a.hash()},
                        {"metrics", metrics_json(m)}}
                       .dump(2)
                << "\n";
    } else {
      print_architecture(a);
      fmt::print("hash {}\n", a.hash());
      print_metrics(m);
    }
    return 0;
  }
  if (space_name.empty())
    throw InputError("describe needs --space NAME or --arch FILE (see narrow describe --help)");
  Registry& reg = load_registry(paths);
  auto space = reg.create_space(space_name, param_map(params));

  if (vm.count("reference")) {
    auto refs = space->references();
    if (reference.empty()) {
      if (refs.empty())
        throw InputError(fmt::format("space '{}' names no reference model", space_name));
      reference = refs.front();
    }
    auto a = space->reference(reference);
    auto arch = space->build(a);
    arch.finalize();
    auto m = analyse(arch);
    if (as_json) {
      std::cout << json{{"space", space_name},
                        {"reference", reference},
                        {"assignment", space->assignment_json(a)},
                        {"architecture", arch.to_json()},
                        {"hash", arch.hash()},
                        {"metrics", metrics_json(m)}}
                       .dump(2)
                << "\n";
    } else {
      fmt::print("space {}, reference {}\n", space_name, reference);
      print_architecture(arch);
      fmt::print("hash {}\nmetrics:\n", arch.hash());
      print_metrics(m);
    }
    return 0;
  }
  if (as_json) {
    std::cout << json{{"space", space_name},
                      {"variables", variables_json(*space)},
                      {"references", space->references()}}
                     .dump(2)
              << "\n";
    return 0;
  }
  const auto& vs = space->variables();
  fmt::print("space {}: {} variables\n", space_name, vs.size());
  for (const auto& v : vs) {
    std::string range = v.kind == Variable::Kind::integer
                            ? fmt::format("{}..{}", v.min, v.max)
                            : fmt::format("{{{}}}", fmt::join(v.choices, ", "));
    std::string dep =
        v.depends_on >= 0
            ? fmt::format(" (when {} >= {})", vs[std::size_t(v.depends_on)].name, v.depends_min)
            : "";
    fmt::print("  {:<20} {:<22} {}{}\n", v.name, range, v.help, dep);
  }
  fmt::print("references: {}\n", fmt::join(space->references(), ", "));
  return 0;
}

// ------------------------------------------------------------------ sample

int cmd_sample(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string space_name, csv;
  std::vector<std::string> params, paths;
  std::int64_t count = 1000;
  std::int64_t seed = 1;
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  opts.add_options()("help,h", "show this help")("space", po::value(&space_name)->required(),
                                                 "search space name")(
      "param", po::value(&params)->composing(), "space parameter NAME=VALUE (repeatable)")(
      "count", po::value(&count)->default_value(count), "number of valid architectures to draw")(
      "seed", po::value(&seed)->default_value(seed), "random seed")(
      "threads", po::value(&threads)->default_value(threads), "worker threads")(
      "csv", po::value(&csv), "write one row per architecture: hash, then every metric")(
      "json", "print one JSON object on stdout")("plugins", po::value(&paths)->composing(),
                                                 "also load plugins from this folder or file");
  po::variables_map vm;
  if (!parse(
          args, opts, vm,
          "narrow sample --space NAME --count N [--seed S] [--threads T] [--csv FILE] [--json]\n\n"
          "Draws N valid architectures uniformly inside the space's absolute bounds, analyses\n"
          "them and prints the statistics of every metric and the throughput. Invalid draws\n"
          "are rejected and counted. Same seed, same rows, whatever the thread count."))
    return 0;
  if (count < 1) throw InputError(fmt::format("--count {} must be at least 1", count));
  if (seed < 0) throw InputError(fmt::format("--seed {} must be at least 0", seed));
  if (threads < 1 || threads > 1024)
    throw InputError(fmt::format("--threads {} must be in 1..1024", threads));
  Registry& reg = load_registry(paths);
  auto space = reg.create_space(space_name, param_map(params));
  Sampler sampler(*space, SamplingLaw::uniform(space->variables()), std::uint64_t(seed));
  // The CSV is written next to its final name and renamed once complete: a failed or
  // interrupted run never leaves a truncated file under that name.
  std::ofstream csv_out;
  const std::string csv_partial = csv + ".partial";
  if (!csv.empty()) {
    csv_out.open(csv_partial);
    if (!csv_out) throw InputError(fmt::format("cannot write CSV file '{}'", csv));
  }

  Progress progress(fmt::format("sampling {}", space_name), std::uint64_t(count), "architectures");
  auto t0 = std::chrono::steady_clock::now();
  auto records = sampler.draw_many(std::uint64_t(count), threads,
                                   [&](std::uint64_t d) { progress.update(d); });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  progress.update(std::uint64_t(count));
  progress.finish();

  std::int64_t rejected = 0;
  for (const auto& r : records) rejected += r.rejected;
  if (csv_out.is_open()) {
    csv_out << "hash";
    for (auto n : metric_names) csv_out << "," << n;
    csv_out << "\n";
    for (const auto& r : records) {
      csv_out << r.hash;
      for (auto n : metric_names) csv_out << "," << r.metrics.get(n);
      csv_out << "\n";
    }
    csv_out.close();
    if (!csv_out) throw Error(fmt::format("writing CSV file '{}' failed", csv));
    std::error_code ec;
    std::filesystem::rename(csv_partial, csv, ec);
    if (ec)
      throw Error(fmt::format("cannot rename '{}' to '{}': {}", csv_partial, csv, ec.message()));
  }
  json stats = json::object();
  for (auto n : metric_names) {
    std::vector<std::int64_t> v;
    v.reserve(records.size());
    for (const auto& r : records) v.push_back(r.metrics.get(n));
    std::sort(v.begin(), v.end());
    double median = v.size() % 2 ? double(v[v.size() / 2])
                                 : (double(v[v.size() / 2 - 1]) + double(v[v.size() / 2])) / 2;
    long double sum = 0;
    for (auto x : v) sum += x;
    stats[std::string(n)] = {{"min", v.front()},
                             {"median", median},
                             {"mean", double(sum / v.size())},
                             {"max", v.back()}};
  }
  const double per_second = seconds > 0 ? double(count) / seconds : 0;
  if (vm.count("json")) {
    std::cout << json{{"space", space_name},      {"seed", seed},         {"threads", threads},
                      {"count", count},           {"rejected", rejected}, {"seconds", seconds},
                      {"per_second", per_second}, {"metrics", stats}}
                     .dump(2)
              << "\n";
    return 0;
  }
  fmt::print(
      "space {}: {} architectures, {} rejected, {:.3f} s, {:.0f} per second ({} threads, seed "
      "{})\n",
      space_name, count, rejected, seconds, per_second, threads, seed);
  fmt::print("  {:<22} {:>14} {:>14} {:>14} {:>14}\n", "metric", "min", "median", "mean", "max");
  for (auto n : metric_names) {
    const auto& s = stats[std::string(n)];
    fmt::print("  {:<22} {:>14} {:>14} {:>14.0f} {:>14}\n", n, s["min"].get<std::int64_t>(),
               s["median"].get<double>(), s["mean"].get<double>(), s["max"].get<std::int64_t>());
  }
  if (!csv.empty()) fmt::print("rows written to {}\n", csv);
  return 0;
}

// ------------------------------------------------------------------ validate / run

int cmd_validate(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string file;
  std::vector<std::string> sets, paths;
  opts.add_options()("help,h", "show this help")("file", po::value(&file), "experiment file")(
      "set", po::value(&sets)->composing(), "override a key: path.to.key=value (repeatable)")(
      "json", "print the resolved experiment as JSON {\"name\", \"resolved\"}")(
      "plugins", po::value(&paths)->composing(), "also load plugins from this folder or file");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow validate FILE [--set path.to.key=value]... [--json]\n\n"
             "Checks an experiment file without running anything: keys, plugin names, parameters,\n"
             "laws, constraints and units. Prints the resolved experiment (every default filled\n"
             "in, laws expanded) on success; one line FILE:LINE:COLUMN: error: ... otherwise.",
             &pos))
    return 0;
  if (file.empty())
    throw InputError("validate needs an experiment FILE (see narrow validate --help)");
  Registry& reg = load_registry(paths);
  PluginLoader loader(reg);
  auto x = Experiment::load(file, sets, reg, loader);
  if (vm.count("json")) {
    std::cout << json{{"name", x.name}, {"file", file}, {"resolved", x.resolved}}.dump(2) << "\n";
  } else {
    std::cout << x.resolved;
    fmt::print(stderr, "{}: valid ({} spaces, {} stages)\n", file, x.spaces.size(),
               x.stages.size());
  }
  return 0;
}

int cmd_run(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string file, out;
  std::vector<std::string> sets, paths;
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  int jobs = 0, torch_threads = 0;
  opts.add_options()("help,h", "show this help")("file", po::value(&file), "experiment file")(
      "out", po::value(&out),
      "run folder (default runs/<name>-<UTC time>); the store is OUT/results.db")(
      "resume", "continue the run stored in --out: finished units of work are not redone")(
      "set", po::value(&sets)->composing(), "override a key: path.to.key=value (repeatable)")(
      "threads", po::value(&threads)->default_value(threads), "worker threads")(
      "jobs", po::value(&jobs)->default_value(0),
      "trainings at once (0: as many as the cores allow with --torch-threads each)")(
      "torch-threads", po::value(&torch_threads)->default_value(0),
      "LibTorch threads per training (0: cores / jobs, at least 1)")(
      "json", "print one JSON object on stdout: out, store, stages with their summaries")(
      "plugins", po::value(&paths)->composing(), "also load plugins from this folder or file");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow run FILE [--out DIR] [--resume] [--set path.to.key=value]... [--json]\n\n"
             "Validates the experiment, then runs its stages in order against one results store,\n"
             "DIR/results.db (SQLite). Every unit of work is stored as it finishes; a run that\n"
             "was killed continues with --resume --out DIR and redoes nothing that finished.",
             &pos))
    return 0;
  if (file.empty()) throw InputError("run needs an experiment FILE (see narrow run --help)");
  if (threads < 1 || threads > 1024)
    throw InputError(fmt::format("--threads {} must be in 1..1024", threads));
  if (vm.count("resume") && out.empty())
    throw InputError("--resume needs --out DIR, the run to continue");
  Registry& reg = load_registry(paths);
  PluginLoader loader(reg);
  auto x = Experiment::load(file, sets, reg, loader);
  if (jobs < 0 || jobs > 1024) throw InputError(fmt::format("--jobs {} must be in 0..1024", jobs));
  if (torch_threads < 0 || torch_threads > 1024)
    throw InputError(fmt::format("--torch-threads {} must be in 0..1024", torch_threads));
  RunOptions options{out, vm.count("resume") > 0, threads, jobs, torch_threads};
  auto report = run_experiment(x, reg, options);
  if (vm.count("json")) {
    json stages = json::array();
    for (const auto& s : report.stages)
      stages.push_back({{"name", s.name},
                        {"strategy", s.strategy},
                        {"seconds", s.seconds},
                        {"summary", json::parse(s.summary)}});
    std::cout << json{{"out", report.out}, {"store", report.store}, {"stages", stages}}.dump(2)
              << "\n";
  } else {
    // A long summary (the precision stage's fronts) stays in the store and in --json.
    for (const auto& s : report.stages)
      fmt::print("stage {} ({}): {:.1f} s, {}\n", s.name, s.strategy, s.seconds,
                 s.summary.size() <= 600
                     ? s.summary
                     : fmt::format("summary in the store's meta 'stage.{}' and in run --json",
                                   s.name));
    fmt::print("results: {}\n", report.store);
  }
  return 0;
}


// ------------------------------------------------------------------ train

/// Keeps the entries of `given` whose names `schema` knows.
std::map<std::string, std::string> only_schema(const std::map<std::string, std::string>& given,
                                               const ParamSchema& schema) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : given)
    for (const auto& p : schema)
      if (p.name == k) out[k] = v;
  return out;
}

int cmd_train(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string space_name, reference, arch_file, experiment_file, stage_name, dataset_name, save;
  std::vector<std::string> params, data, train, paths;
  std::uint64_t seed = 1;
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  opts.add_options()("help,h", "show this help")(
      "arch", po::value(&arch_file), "train the architecture of this JSON file")(
      "space", po::value(&space_name), "train a reference model of this search space")(
      "reference", po::value(&reference), "the reference model (default: the space's first)")(
      "param", po::value(&params)->composing(), "space parameter NAME=VALUE (repeatable)")(
      "experiment", po::value(&experiment_file),
      "take the dataset and the training options from this experiment (its seed too)")(
      "stage", po::value(&stage_name),
      "with --experiment: the train stage whose options apply (default: the first)")(
      "dataset", po::value(&dataset_name), "dataset name (default idx: Fashion-MNIST)")(
      "data", po::value(&data)->composing(),
      "dataset parameter NAME=VALUE, e.g. train_size=5000 (repeatable)")(
      "epochs", po::value<std::int64_t>(), "passes over the training set")(
      "iterations", po::value<std::int64_t>(), "stop after this many batches (traction)")(
      "batch-size", po::value<std::int64_t>(), "images per batch")(
      "lr", po::value<double>(), "initial learning rate")(
      "train", po::value(&train)->composing(),
      "training parameter NAME=VALUE (repeatable; see below)")(
      "seed", po::value(&seed)->default_value(seed), "seed of weights, batches and the split")(
      "threads", po::value(&threads)->default_value(threads), "LibTorch threads")(
      "save", po::value(&save), "write the trained weights to this file")(
      "json", "print one JSON object on stdout")(
      "plugins", po::value(&paths)->composing(), "also load plugins from this folder or file");
  po::variables_map vm;
  std::string training_help;
  for (const auto& p : TrainingConfig::schema())
    training_help += fmt::format("  {:<16} {:<10} {}{}\n", p.name, to_string(p.default_value),
                                 p.help, p.allowed().empty() ? "" : " (" + p.allowed() + ")");
  const std::string usage =
      "narrow train (--arch FILE.json | --space S [--reference R] [--param K=V]...)\n"
      "             [--experiment FILE [--stage NAME]] [--dataset NAME] [--data K=V]...\n"
      "             [--epochs N] [--iterations N] [--batch-size N] [--lr X] [--train K=V]...\n"
      "             [--seed S] [--threads T] [--save FILE] [--json]\n\n"
      "Trains one model with LibTorch on this machine, evaluates it on the validation and\n"
      "test sets and prints accuracy and time. With no dataset named, Fashion-MNIST.\n\n"
      "training parameters (--train NAME=VALUE):\n" +
      training_help;
  if (!parse(args, opts, vm, usage.c_str())) return 0;
  if (arch_file.empty() == space_name.empty())
    throw InputError("train needs either --arch FILE.json or --space NAME (see narrow train --help)");
  if (threads < 1 || threads > 1024)
    throw InputError(fmt::format("--threads {} must be in 1..1024", threads));
  Registry& reg = load_registry(paths);

  // The architecture.
  std::string what;
  Architecture arch =
      architecture_from_options(reg, arch_file, space_name, reference, params, what);

  // Dataset and training options: the experiment's first, then the command line's.
  TrainJob job;
  std::map<std::string, std::string> training;
  if (!experiment_file.empty()) {
    PluginLoader loader(reg);
    auto x = Experiment::load(experiment_file, {}, reg, loader);
    if (vm["seed"].defaulted()) seed = x.seed;
    if (x.dataset) {
      job.dataset.name = x.dataset->name;
      job.dataset.parameters = x.dataset->parameters;
    }
    const ExperimentStage* stage = nullptr;
    for (const auto& st : x.stages)
      if (stage_name.empty() ? st.strategy.name == "train" : st.name == stage_name) {
        stage = &st;
        break;
      }
    if (!stage && !stage_name.empty())
      throw InputError(fmt::format("{} has no stage '{}'", experiment_file, stage_name));
    if (stage) training = only_schema(stage->strategy.parameters, TrainingConfig::schema());
  }
  if (!dataset_name.empty()) {
    if (dataset_name != job.dataset.name) job.dataset.parameters.clear();
    job.dataset.name = dataset_name;
  }
  for (const auto& [k, v] : param_map(data)) job.dataset.parameters[k] = v;
  for (const auto& [k, v] : param_map(train)) training[k] = v;
  if (vm.count("epochs")) training["epochs"] = std::to_string(vm["epochs"].as<std::int64_t>());
  if (vm.count("iterations"))
    training["iterations"] = std::to_string(vm["iterations"].as<std::int64_t>());
  if (vm.count("batch-size"))
    training["batch_size"] = std::to_string(vm["batch-size"].as<std::int64_t>());
  if (vm.count("lr")) training["learning_rate"] = fmt::format("{}", vm["lr"].as<double>());
  job.config = TrainingConfig::from(
      Parameters::resolve(TrainingConfig::schema(), training, "training options"));
  job.dataset.seed = content_seed(fmt::format("{}|dataset", seed));
  // Reads the data (the engine finds it cached) and checks that the model fits it before
  // LibTorch loads.
  check_fits(arch, *load_dataset(reg, job.dataset));
  job.architecture_hash = arch.hash();
  job.architecture_json = arch.to_json_string();
  job.seed = seed;
  job.threads = threads;
  job.keep_weights = !save.empty();
  job.make_key(reg);

  const bool as_json = vm.count("json") > 0;
  const bool quiet = std::getenv("NARROW_PROGRESS") && std::string(std::getenv("NARROW_PROGRESS")) == "off";
  const auto metrics = analyse(arch);
  fmt::print(stderr, "train {} ({} parameters, {} MACs) on {}, {} epochs{}, {} thread{}\n", what,
             human(metrics.params), human(metrics.macs), job.dataset.name, job.config.epochs,
             job.config.iterations ? fmt::format(" or {} iterations", job.config.iterations) : "",
             threads, threads == 1 ? "" : "s");
  TorchEngine& engine = torch_engine();
  const auto total_epochs = job.config.epochs;
  const TrainResult r = engine.train(reg, job, [&](const EpochRecord& e) {
    if (quiet) return;
    fmt::print(stderr,
               "epoch {}/{}  lr {:.4g}  train loss {:.4f} acc {:.4f}  val loss {:.4f} acc {:.4f}  "
               "({:.1f} s)\n",
               e.epoch, total_epochs, e.learning_rate, e.train_loss, e.train_accuracy, e.val_loss,
               e.val_accuracy, e.seconds);
  });
  if (!save.empty() && !r.weights.empty()) {
    std::ofstream out(save, std::ios::binary);
    out.write(r.weights.data(), std::streamsize(r.weights.size()));
    if (!out) throw Error(fmt::format("cannot write the weights to '{}'", save));
  }
  if (as_json) {
    json j = r.to_json();
    j["val_accuracy"] = r.validation.accuracy;
    j["test_accuracy"] = r.test.accuracy;
    j["val_loss"] = j["validation"]["loss"];
    j["test_loss"] = j["test"]["loss"];
    j["dataset"] = job.dataset.to_json();
    j["training"] = job.config.to_json();
    j["metrics"] = metrics_json(metrics);
    j["seed"] = seed;
    if (!save.empty()) j["saved"] = save;
    std::cout << j.dump(2) << "\n";
  } else if (r.status == "ok") {
    fmt::print("{}: val accuracy {:.4f}, test accuracy {:.4f} (loss {:.4f}); {} epochs, "
               "{} iterations in {:.1f} s, {:.0f} images/s, {} thread{}\n",
               arch.hash(), r.validation.accuracy, r.test.accuracy, r.test.loss, r.epochs,
               r.iterations, r.seconds, r.images_per_second, r.threads, r.threads == 1 ? "" : "s");
    if (!save.empty()) fmt::print("weights: {}\n", save);
  }
  if (r.status != "ok") {
    fmt::print(stderr, "narrow train: the training failed: {}\n", r.reason);
    return 1;
  }
  return 0;
}


// ------------------------------------------------------------------ evaluate

int cmd_evaluate(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string space_name, reference, arch_file, weights_file, store_file, hash, dataset_name;
  std::vector<std::string> params, data, paths;
  std::uint64_t seed = 1;
  int threads = int(std::max(1u, std::thread::hardware_concurrency()));
  opts.add_options()("help,h", "show this help")(
      "arch", po::value(&arch_file), "the architecture JSON file")(
      "space", po::value(&space_name), "or a reference model of this search space")(
      "reference", po::value(&reference), "the reference model (default: the space's first)")(
      "param", po::value(&params)->composing(), "space parameter NAME=VALUE (repeatable)")(
      "weights", po::value(&weights_file), "trained weights, as narrow train --save wrote them")(
      "store", po::value(&store_file),
      "or take architecture, weights and dataset from this results store...")(
      "hash", po::value(&hash), "...for the architecture with this hash (or its first digits)")(
      "dataset", po::value(&dataset_name), "dataset name (default idx: Fashion-MNIST)")(
      "data", po::value(&data)->composing(), "dataset parameter NAME=VALUE (repeatable)")(
      "seed", po::value(&seed)->default_value(seed), "seed of the validation split")(
      "threads", po::value(&threads)->default_value(threads), "LibTorch threads")(
      "json", "print one JSON object on stdout")(
      "plugins", po::value(&paths)->composing(), "also load plugins from this folder or file");
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow evaluate (--arch FILE.json | --space S [--reference R]) --weights FILE\n"
             "                [--dataset NAME] [--data K=V]... [--seed S] [--json]\n"
             "       narrow evaluate --store RUN/results.db --hash H [--json]\n\n"
             "Evaluates a trained model on the validation and test sets: loss, top-1 accuracy\n"
             "and the confusion matrix. From a store, the model's best training is used, with\n"
             "the dataset and split it was trained with."))
    return 0;
  if (threads < 1 || threads > 1024)
    throw InputError(fmt::format("--threads {} must be in 1..1024", threads));
  Registry& reg = load_registry(paths);
  std::string arch_json, weights, what;
  DatasetSpec dataset;
  if (!store_file.empty()) {
    if (hash.empty()) throw InputError("--store needs --hash, the architecture to evaluate");
    if (!fs::exists(store_file))
      throw InputError(fmt::format("results store '{}' does not exist", store_file));
    auto store = Store::open(store_file);
    std::vector<TrainResult> trainings = store->trainings();
    std::erase_if(trainings,
                  [&](const TrainResult& t) { return !t.architecture_hash.starts_with(hash); });
    const TrainResult* best = best_training(trainings);
    if (!best)
      throw InputError(fmt::format("{} holds no successful training of an architecture whose "
                                   "hash starts with '{}'",
                                   store_file, hash));
    auto w = store->training_weights(best->key);
    if (!w)
      throw InputError(fmt::format("the training {} in {} kept no weights (keep_weights: no)",
                                   best->key, store_file));
    weights = std::move(*w);
    arch_json = *store->architecture_json(best->architecture_hash);
    dataset = store->training_dataset(best->key);
    what = fmt::format("{} from {}", best->architecture_hash, store_file);
  } else {
    if (arch_file.empty() == space_name.empty())
      throw InputError(
          "evaluate needs --arch FILE.json, --space NAME or --store FILE (see narrow evaluate "
          "--help)");
    if (weights_file.empty()) throw InputError("evaluate needs --weights FILE");
    std::ifstream in(weights_file, std::ios::binary);
    if (!in) throw InputError(fmt::format("cannot read weights file '{}'", weights_file));
    weights.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    arch_json = architecture_from_options(reg, arch_file, space_name, reference, params, what)
                    .to_json_string();
    if (!dataset_name.empty()) dataset.name = dataset_name;
    dataset.parameters = param_map(data);
    dataset.seed = content_seed(fmt::format("{}|dataset", seed));
  }
  const Architecture arch = Architecture::from_json_string(arch_json);
  check_fits(arch, *load_dataset(reg, dataset));
  const auto t0 = std::chrono::steady_clock::now();
  const auto [validation, test] = torch_engine().evaluate(reg, arch_json, weights, dataset, threads);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (vm.count("json")) {
    json v = validation.to_json(), t = test.to_json();
    std::cout << json{{"architecture_hash", arch.hash()},
                      {"dataset", dataset.to_json()},
                      {"val_accuracy", validation.accuracy},
                      {"test_accuracy", test.accuracy},
                      {"validation", v},
                      {"test", t},
                      {"seconds", seconds},
                      {"threads", threads}}
                     .dump(2)
              << "\n";
  } else {
    fmt::print("{}: val accuracy {:.4f} (loss {:.4f}, {} images), test accuracy {:.4f} (loss "
               "{:.4f}, {} images); {:.1f} s, {} thread{}\n",
               what, validation.accuracy, validation.loss, validation.count, test.accuracy,
               test.loss, test.count, seconds, threads, threads == 1 ? "" : "s");
    fmt::print("test confusion matrix (rows: true class, columns: predicted):\n");
    for (const auto& row : test.confusion) fmt::print("  {}\n", fmt::join(row, " "));
  }
  return 0;
}

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> list{
      {"plugins", "list the plugins found, with their parameters", &cmd_plugins},
      {"describe", "show a search space, a reference model or an architecture file", &cmd_describe},
      {"sample", "draw and analyse architectures of a space", &cmd_sample},
      {"validate", "check an experiment file without running it", &cmd_validate},
      {"run", "run an experiment's stages into a results store", &cmd_run},
      {"train", "train and evaluate one model (LibTorch, this machine)", &cmd_train},
      {"evaluate", "evaluate trained weights on the validation and test sets", &cmd_evaluate},
      {"round", "round numbers from stdin to a number format", &cmd_round},
      {"precision", "accuracy of trained models in reduced-precision number formats",
       &cmd_precision},
      {"calibrate", "measure latency on a device and fit a latency model", &cmd_calibrate},
  };
  return list;
}

}  // namespace narrow::cli
