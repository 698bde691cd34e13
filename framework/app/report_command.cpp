// `narrow report`: the figures and tables of a run as files, with one page that shows them.
#include <filesystem>

#include <fmt/format.h>

#include "command_support.hpp"
#include "commands.hpp"
#include "narrow/errors.hpp"
#include "narrow/store.hpp"
#include "run/report/gnuplot.hpp"
#include "run/report/report.hpp"

namespace po = boost::program_options;

namespace narrow::cli {

int cmd_report(const std::vector<std::string>& args) {
  po::options_description opts("options");
  std::string run, out;
  add_help_option(opts);
  opts.add_options()("run", po::value(&run), "run folder (or its results.db)")(
      "out", po::value(&out), "folder to write the report into (created when missing)");
  add_json_option(opts, "print report.json (every plot and table written) on stdout");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (!parse(args, opts, vm,
             "narrow report RUN --out DIR [--json]\n\n"
             "Writes the figures and tables of a run into DIR: a CSV and a JSON file per table,\n"
             "an SVG and a PNG per plot (drawn by gnuplot), index.html showing them all (it\n"
             "reads offline) and report.json listing every file. Figures: histograms of the\n"
             "parameters drawn (paper Figures 1 and 4), metric correlations (Figure 2),\n"
             "accuracy against weight memory per number format (Figure 5) and against\n"
             "latency (Figure 7). See docs/report.md.",
             &pos))
    return 0;
  if (run.empty()) throw InputError("report needs a RUN folder (see narrow report --help)");
  if (out.empty()) throw InputError("report needs --out DIR, the folder to write the report into");
  const std::string db = run_store_path(run);
  if (std::filesystem::is_directory(run) && !std::filesystem::exists(db))
    throw InputError(fmt::format("'{}' holds no results store (results.db); is it a run folder?", run));
  auto store = open_store(db);
  report::prepare_output_folder(out);
  report::require_gnuplot();
  const report::Report content = report::build_report(*store, db);
  const nlohmann::json summary = report::write_report(content, out);
  if (vm.count("json")) {
    print_json(summary);
  } else {
    fmt::print("{}: {} plots, {} tables; open {}\n", out, summary["plots"].size(),
               summary["tables"].size(), (std::filesystem::path(out) / "index.html").string());
  }
  return 0;
}

}  // namespace narrow::cli
