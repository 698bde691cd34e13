#include "run/report/report.hpp"

#include <unistd.h>

#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/output_file.hpp"
#include "narrow/store.hpp"
#include "run/model_table.hpp"
#include "run/report/comparison.hpp"
#include "run/report/dnas_table.hpp"
#include "run/report/monte_carlo_tables.hpp"

namespace narrow::report {
namespace fs = std::filesystem;

namespace {

void write_table(const Table& t, const fs::path& dir) {
  write_output_file((dir / (t.name + ".csv")).string(), t.csv(), "CSV file");
  write_output_file((dir / (t.name + ".json")).string(), t.json().dump(2) + "\n", "JSON file");
}

nlohmann::json table_entry(const Table& t) {
  return {{"name", t.name},
          {"title", t.title},
          {"rows", t.rows.size()},
          {"columns", t.columns},
          {"csv", t.name + ".csv"},
          {"json", t.name + ".json"}};
}

}  // namespace

Report build_report(const Store& store, const std::string& db, const std::vector<StoredRun>& runs,
                    UnitFilter units, const std::vector<double>& budgets,
                    const Registry* registry) {
  Report r;
  r.store = db;
  r.experiment = store.meta("experiment_name").value_or("");
  auto models = load_models(store, db, units);
  // The model table: every model in every format, and latency measured where stored, else the
  // device's prediction (with a registry).
  const ModelTable table = load_model_table(store, registry, units);
  {
    std::map<std::string, const ModelRow*> float32;
    for (const auto& row : table.rows)
      if (row.format == "float32") float32[row.training_key] = &row;
    for (auto& m : models) {
      const auto it = float32.find(m.key);
      if (it == float32.end() || !it->second->latency) continue;
      m.latency_seconds = it->second->latency;
      m.latency_source = std::string(latency_source_name(it->second->latency_source));
    }
  }
  r.figures.push_back(histogram_figure(load_histograms(store, db, units)));
  r.figures.push_back(correlation_figure(load_accepted(store, db, units)));
  r.figures.push_back(memory_figure(load_format_points(table, models)));
  r.figures.push_back(latency_figure(models));
  r.tables.push_back(models_table(models));
  Comparison c = compare_runs(store, db, runs, budgets);
  r.figures.push_back(std::move(c.fronts));
  r.tables.push_back(std::move(c.ablation));
  r.tables.push_back(std::move(c.references));
  r.summary = std::move(c.summary);
  // Chan et al.'s tables, when the runs hold Monte Carlo searches.
  MonteCarloTables mc = monte_carlo_tables(runs);
  if (!mc.variants.rows.empty()) r.tables.push_back(std::move(mc.variants));
  if (!mc.bounds.rows.empty()) r.tables.push_back(std::move(mc.bounds));
  for (auto& line : mc.summary) r.summary.push_back(std::move(line));
  // The channel searches, when the runs hold some.
  DnasTable dnas = dnas_table(runs);
  if (!dnas.searches.rows.empty()) r.tables.push_back(std::move(dnas.searches));
  for (auto& line : dnas.summary) r.summary.push_back(std::move(line));
  return r;
}

void prepare_output_folder(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw InputError(fmt::format("--out '{}' is a file; the report needs a folder", dir.string()));
  fs::create_directories(dir, ec);
  if (ec)
    throw InputError(fmt::format("cannot create the report folder '{}': {}", dir.string(),
                                 ec.message()));
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw InputError(fmt::format("cannot write into the report folder '{}'", dir.string()));
}

nlohmann::json write_report(const Report& report, const fs::path& dir) {
  nlohmann::json tables = nlohmann::json::array(), plots = nlohmann::json::array(),
                 omitted = nlohmann::json::array();
  for (const auto& f : report.figures) {
    write_table(f.table, dir);
    tables.push_back(table_entry(f.table));
    if (!f.plot) {
      // A report written into the folder before may have drawn it: leave no stale plot behind.
      for (const char* ext : {".svg", ".png", ".dat", ".gp"}) {
        std::error_code ec;
        fs::remove(dir / (f.name + ext), ec);
      }
      omitted.push_back({{"plot", f.name}, {"reason", f.omitted}});
      fmt::print(stderr, "report: {} left out: {}\n", f.name, f.omitted);
      continue;
    }
    draw_plot(*f.plot, dir);
    fmt::print(stderr, "report: {} ({} points): {}.svg, {}.png\n", f.name, f.plot->points(),
               f.name, f.name);
    plots.push_back({{"name", f.name},
                     {"title", f.title},
                     {"svg", f.name + ".svg"},
                     {"png", f.name + ".png"},
                     {"width", f.plot->width},
                     {"height", f.plot->height},
                     {"points", f.plot->points()},
                     {"table", f.table.name}});
  }
  for (const auto& t : report.tables) {
    write_table(t, dir);
    tables.push_back(table_entry(t));
  }
  write_output_file((dir / "index.html").string(), index_html(report), "report page");
  nlohmann::json summary{{"store", report.store},
                         {"experiment", report.experiment},
                         {"folder", dir.string()},
                         {"page", "index.html"},
                         {"plots", plots},
                         {"omitted", omitted},
                         {"summary", report.summary},
                         {"tables", tables}};
  write_output_file((dir / "report.json").string(), summary.dump(2) + "\n", "report listing");
  return summary;
}

}  // namespace narrow::report
