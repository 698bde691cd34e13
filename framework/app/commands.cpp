#include "commands.hpp"

#include <algorithm>
#include <chrono>
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
#include "narrow/experiment.hpp"
#include "narrow/loader.hpp"
#include "narrow/metrics.hpp"
#include "narrow/progress.hpp"
#include "narrow/registry.hpp"
#include "narrow/runner.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace narrow::cli {

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
  fmt::print("input {}  classes {}\n", a.input().to_string(), a.classes());
  for (std::size_t i = 0; i < a.layers().size(); ++i) {
    const auto& l = a.layers()[i];
    std::string attrs;
    if (l.op == Op::conv2d)
      attrs = fmt::format("out {} kernel {}x{} stride {}x{} pad {}x{}{}{}", l.out_channels,
                          l.kernel[0], l.kernel[1], l.stride[0], l.stride[1], l.padding[0],
                          l.padding[1], l.groups > 1 ? fmt::format(" groups {}", l.groups) : "",
                          l.bias ? " bias" : "");
    else if (l.op == Op::maxpool || l.op == Op::avgpool)
      attrs = fmt::format("kernel {}x{} stride {}x{} pad {}x{}", l.kernel[0], l.kernel[1],
                          l.stride[0], l.stride[1], l.padding[0], l.padding[1]);
    else if (l.op == Op::linear)
      attrs = fmt::format("out {}{}", l.out_channels, l.bias ? " bias" : "");
    else if (l.op == Op::dropout)
      attrs = fmt::format("p {}", l.p);
    fmt::print("  {:<14} {:<15} {:<36} -> {}\n", l.id, op_name(l.op), attrs,
               a.shape(i).to_string());
  }
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
    std::ifstream in(arch_file);
    if (!in) throw InputError(fmt::format("cannot read architecture file '{}'", arch_file));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Architecture a;
    try {
      a = Architecture::from_json_string(text);
    } catch (const InvalidArchitecture& e) {
      throw InputError(e.what(), SourceLocation{arch_file});
    }
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
  opts.add_options()("help,h", "show this help")("file", po::value(&file), "experiment file")(
      "out", po::value(&out),
      "run folder (default runs/<name>-<UTC time>); the store is OUT/results.db")(
      "resume", "continue the run stored in --out: finished units of work are not redone")(
      "set", po::value(&sets)->composing(), "override a key: path.to.key=value (repeatable)")(
      "threads", po::value(&threads)->default_value(threads), "worker threads")(
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
  RunOptions options{out, vm.count("resume") > 0, threads};
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
    for (const auto& s : report.stages)
      fmt::print("stage {} ({}): {:.1f} s, {}\n", s.name, s.strategy, s.seconds, s.summary);
    fmt::print("results: {}\n", report.store);
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
  };
  return list;
}

}  // namespace narrow::cli
