#pragma once
// `narrow report`: the figures and tables of a results store written into a folder: one CSV
// and one JSON per table, an SVG and a PNG per plot (gnuplot), index.html showing them all
// (offline: relative paths, inline CSS, no script) and report.json listing every file.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/report/figures.hpp"
#include "run/report/report_data.hpp"

namespace narrow {
class Registry;
class Store;
struct StoredRun;
}

namespace narrow::report {

struct Report {
  std::string store;       // the store's file
  std::string experiment;  // its experiment's name
  std::vector<Figure> figures;
  std::vector<Table> tables;  // besides the figures' tables: models, ablation, references
  std::vector<std::string> summary;  // where the search stands at each budget (comparison.hpp)
};

/// Reads the store (its units in `units` only, when given) into figures and tables, with the
/// comparison of its `runs` (stored_runs, all of them) at the weight `budgets` (bytes;
/// comparison.hpp). With a `registry`,
/// a model whose latency was not measured gets the prediction of the run's device (the model
/// table's latency, run/model_table.hpp), marked as predicted.
Report build_report(const Store& store, const std::string& db, const std::vector<StoredRun>& runs,
                    UnitFilter units, const std::vector<double>& budgets,
                    const Registry* registry = nullptr);

/// Checks that `dir` can be the output folder (creates it when missing): InputError when it is
/// a file or cannot be created or written.
void prepare_output_folder(const std::filesystem::path& dir);

/// Writes the report into `dir` (prepared): tables, plots (a line per plot on stderr), the page
/// and report.json, whose content is returned.
nlohmann::json write_report(const Report& report, const std::filesystem::path& dir);

/// The page: every figure (PNG linking its SVG, or why it is missing) and table (HTML when it
/// has at most `inline_rows` rows, else a link to its CSV).
std::string index_html(const Report& report, std::size_t inline_rows = 40);

}  // namespace narrow::report
