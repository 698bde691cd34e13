// `narrow run`: runs an experiment's stages into a results store.
#include <fmt/format.h>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/errors.hpp"
#include "run/runner.hpp"

namespace po = boost::program_options;
using nlohmann::json;

namespace narrow::cli {

int cmd_run(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string file, out;
  std::vector<std::string> sets, paths;
  std::string seeds;
  int threads = 0;
  int jobs = 0, torch_threads = 0;
  add_help_option(opts);
  opts.add_options()("file", po::value(&file), "experiment file")(
      "out", po::value(&out),
      "run folder (default runs/<name>-<UTC time>); the store is OUT/results.db")(
      "resume", "continue the run stored in --out: finished units of work are not redone")(
      "set", po::value(&sets)->composing(), "override a key: path.to.key=value (repeatable)");
  add_threads_option(opts, threads, "worker threads");
  opts.add_options()(
      "jobs", po::value(&jobs)->default_value(0),
      "trainings at once (0: as many as the cores allow with --torch-threads each)")(
      "torch-threads", po::value(&torch_threads)->default_value(0),
      "LibTorch threads per training (0: cores / jobs, at least 1)");
  add_seeds_option(opts, seeds);
  add_json_option(opts, "print one JSON object on stdout: out, store, stages with their summaries");
  add_plugins_option(opts, paths);
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow run FILE [--out DIR] [--resume] [--set path.to.key=value]... [--seeds 1,2,3]\n"
             "           [--json]\n\n"
             "Validates the experiment, then runs its stages in order against one results store,\n"
             "DIR/results.db (SQLite). Every unit of work is stored as it finishes; a run that\n"
             "was killed continues with --resume --out DIR and redoes nothing that finished.\n"
             "A run owns its store while it runs: a second run or --resume of it is refused,\n"
             "naming the process that holds it.\n\n"
             "An experiment with 'ablation:' variants or several 'seeds' runs the experiment\n"
             "and then each variant, under each seed, into the same store; a unit of work that\n"
             "several runs need is done once and reused (docs/experiments.md).",
             &pos))
    return 0;
  if (file.empty()) throw InputError("run needs an experiment FILE (see narrow run --help)");
  check_threads(threads);
  if (vm.count("resume") && out.empty())
    throw InputError("--resume needs --out DIR, the run to continue");
  add_seeds_set(seeds, sets);
  Registry& reg = load_registry(paths);
  auto x = load_experiment(reg, file, sets);
  check_range("--jobs", jobs, 0, 1024);
  check_range("--torch-threads", torch_threads, 0, 1024);
  RunOptions options{out, vm.count("resume") > 0, threads, jobs, torch_threads};
  auto report = run_experiment(x, reg, options);
  auto stages_json = [](const std::vector<StageReport>& stages) {
    json list = json::array();
    for (const auto& s : stages)
      list.push_back({{"name", s.name},
                     {"strategy", s.strategy},
                     {"seconds", s.seconds},
                     {"summary", json::parse(s.summary)}});
    return list;
  };
  if (vm.count("json")) {
    json runs = json::array();
    for (const auto& r : report.runs)
      runs.push_back({{"id", r.id},
                      {"variant", r.variant},
                      {"seed", r.seed},
                      {"seconds", r.seconds},
                      {"stages", stages_json(r.stages)}});
    print_json(json{{"out", report.out},
                    {"store", report.store},
                    {"stages", stages_json(report.stages)},
                    {"runs", runs}});
  } else {
    for (const auto& r : report.runs) {
      if (report.runs.size() > 1)
        fmt::print("run {} ({} at seed {}): {:.1f} s\n", r.id.empty() ? "(base)" : r.id,
                   r.variant, r.seed, r.seconds);
      // A long summary (the precision stage's fronts) stays in the store and in --json.
      for (const auto& s : r.stages)
        fmt::print("{}stage {} ({}): {:.1f} s, {}\n", report.runs.size() > 1 ? "  " : "", s.name,
                   s.strategy, s.seconds,
                   s.summary.size() <= 600
                       ? s.summary
                       : std::string("summary in the store and in run --json"));
    }
    fmt::print("results: {}\n", report.store);
  }
  return 0;
}

}  // namespace narrow::cli
