// `narrow report`: the figures and tables of a run as files, with one page that shows them.
#include <filesystem>

#include <fmt/format.h>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/errors.hpp"
#include "narrow/store.hpp"
#include "narrow/units.hpp"
#include "run/report/gnuplot.hpp"
#include "run/report/comparison.hpp"
#include "run/report/report.hpp"
#include "run/runs.hpp"

namespace po = boost::program_options;

namespace narrow::cli {

int cmd_report(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string run, out, only, budgets_text;
  std::vector<std::string> paths;
  add_help_option(opts);
  opts.add_options()("run", po::value(&run), "run folder (or its results.db)")(
      "out", po::value(&out), "folder to write the report into (created when missing)")(
      "only", po::value(&only),
      "draw the figures of one run of the store only: its id, as `narrow run` names it ('' is "
      "the experiment as written at its seed, else VARIANT@SEED)")(
      "budgets", po::value(&budgets_text),
      "weight budgets the comparison of runs and references uses, a comma list such as "
      "4KiB,16KiB (default: the budgets the references were shrunk to, else 4KiB,16KiB)");
  add_json_option(opts, "print report.json (every plot and table written) on stdout");
  add_plugins_option(opts, paths);
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow report RUN --out DIR [--only RUN-ID] [--budgets 4KiB,16KiB] [--json]\n\n"
             "Writes the figures and tables of a run into DIR: a CSV and a JSON file per table,\n"
             "an SVG and a PNG per plot (drawn by gnuplot), index.html showing them all (it\n"
             "reads offline) and report.json listing every file. Figures: histograms of the\n"
             "parameters drawn (paper Figures 1 and 4), metric correlations (Figure 2),\n"
             "accuracy against weight memory per number format (Figure 5) and against\n"
             "latency (Figure 7). With several runs in the store (ablation variants, seeds),\n"
             "the ablation table compares them at each budget (mean ± standard deviation over\n"
             "the seeds) with the reference models shrunk to it, and the fronts of the\n"
             "variants; the summary says where the search stands. See docs/report.md.",
             &pos))
    return 0;
  if (run.empty()) throw InputError("report needs a RUN folder (see narrow report --help)");
  if (out.empty()) throw InputError("report needs --out DIR, the folder to write the report into");
  const std::string db = run_store_path(run);
  if (std::filesystem::is_directory(run) && !std::filesystem::exists(db))
    throw InputError(fmt::format("'{}' holds no results store (results.db); is it a run folder?", run));
  auto store = open_store(db);
  std::vector<double> budgets;
  if (vm.count("budgets")) {
    std::vector<ListedQuantity> items;
    std::string error;
    if (!parse_quantity_list(budgets_text, Dimension::bytes, items, error))
      throw InputError(fmt::format("--budgets: {}", error));
    for (const auto& item : items) budgets.push_back(item.value);
  } else {
    budgets = report::default_budgets(*store);
  }
  const std::vector<StoredRun> runs = stored_runs(*store);
  const auto units = only_run_units(vm, only, *store, runs, db);
  report::prepare_output_folder(out);
  report::require_gnuplot();
  // The run's device predicts the latency of the models it did not measure (Figure 7).
  const Registry& registry = load_run_registry(paths, *store);
  const report::Report content =
      report::build_report(*store, db, runs, units ? &*units : nullptr, budgets, &registry);
  const nlohmann::json summary = report::write_report(content, out);
  if (vm.count("json")) {
    print_json(summary);
  } else {
    for (const auto& line : content.summary) fmt::print("{}\n", line);
    fmt::print("{}: {} plots, {} tables; open {}\n", out, summary["plots"].size(),
               summary["tables"].size(), (std::filesystem::path(out) / "index.html").string());
  }
  return 0;
}

}  // namespace narrow::cli
