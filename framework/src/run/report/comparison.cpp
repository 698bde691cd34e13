#include "run/report/comparison.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "narrow/pareto.hpp"
#include "narrow/store.hpp"
#include "narrow/units.hpp"
#include "run/model_table.hpp"
#include "run/runs.hpp"

namespace narrow::report {

namespace {

std::string pct(const Spread& s) {
  if (!s.n) return "none";
  return s.sd ? fmt::format("{:.1f} % ± {:.1f}", s.mean, *s.sd) : fmt::format("{:.1f} %", s.mean);
}

// One shrunk reference of a run.
struct ReferenceOf {
  std::string name, training;
  double budget = 0;
};

// What one run holds.
struct RunData {
  StoredRun run;
  std::vector<Model> models;
  std::vector<FormatPoint> points;
  std::vector<ReferenceOf> references;
  std::map<std::string, std::int64_t> float32_bytes;  // of each training (float32_bytes_of)
};

// Float32 weight bytes of each training, as the precision analysis counts them when it did.
std::map<std::string, std::int64_t> float32_bytes_of(const RunData& r) {
  std::map<std::string, std::int64_t> out;
  for (const auto& p : r.points)
    if (p.format == "float32") out[p.training] = p.weight_bytes;
  for (const auto& m : r.models) out.emplace(m.key, m.metrics.get("weight_bytes"));
  return out;
}

// The search's best model of a run within `budget`: highest validation accuracy.
const Model* best_model(const RunData& r, double budget) {
  const auto& bytes = r.float32_bytes;
  const Model* best = nullptr;
  for (const auto& m : r.models) {
    if (m.status != "ok" || !m.reference.empty()) continue;
    const auto b = bytes.at(m.key);
    if (double(b) > budget) continue;
    if (!best || m.val_accuracy > best->val_accuracy ||
        (m.val_accuracy == best->val_accuracy &&
         (b < bytes.at(best->key) || (b == bytes.at(best->key) && m.hash < best->hash))))
      best = &m;
  }
  return best;
}

const FormatPoint* best_point(const RunData& r, double budget) {
  const FormatPoint* best = nullptr;
  for (const auto& p : r.points) {
    if (!p.reference.empty() || double(p.weight_bytes) > budget) continue;
    if (!best || p.accuracy > best->accuracy ||
        (p.accuracy == best->accuracy && p.weight_bytes < best->weight_bytes))
      best = &p;
  }
  return best;
}

std::vector<RunData> load_runs(const Store& store, const std::string& db,
                               const std::vector<StoredRun>& runs) {
  std::vector<RunData> out;
  const auto references = stored_references(store);
  for (const StoredRun& run : runs) {
    const auto units = run_unit_keys(store, run.id);
    RunData r{run, load_models(store, db, &units), {}, {}, {}};
    r.points = load_format_points(load_model_table(store, nullptr, &units), r.models);
    for (const auto& ref : references)
      if (units.count(ref.unit) && ref.budget)  // without a budget, not one we can place
        r.references.push_back({ref.reference, ref.training, *ref.budget});
    r.float32_bytes = float32_bytes_of(r);
    out.push_back(std::move(r));
  }
  return out;
}

std::string budget_text(double b) {
  return std::fmod(b, 1024) == 0 ? fmt::format("{} KiB", std::int64_t(b) / 1024)
                                  : fmt::format("{} B", std::int64_t(b));
}

}  // namespace

std::vector<double> default_budgets(const Store& store) {
  std::set<double> budgets;
  for (const auto& ref : stored_references(store))
    if (ref.metric == "weight_bytes" && ref.budget) budgets.insert(*ref.budget);
  budgets.erase(0.0);
  if (budgets.empty()) return {4096, 16384};
  return {budgets.begin(), budgets.end()};
}

Comparison compare_runs(const Store& store, const std::string& db,
                        const std::vector<StoredRun>& stored, const std::vector<double>& budgets) {
  const std::vector<RunData> runs = load_runs(store, db, stored);
  std::vector<std::string> variants;  // in the order they ran
  for (const auto& r : runs)
    if (std::find(variants.begin(), variants.end(), r.run.variant) == variants.end())
      variants.push_back(r.run.variant);

  Comparison c;
  c.ablation = Table{"ablation",
                     "Per variant and weight budget, over its seeds: the search's best model "
                     "(float32, chosen on validation accuracy, test accuracy reported), the "
                     "best model and format within the budget, and the shrunk references",
                     {"variant", "budget_bytes", "seeds", "search_test_pct_mean",
                      "search_test_pct_sd", "params_mean", "weight_bytes_mean", "macs_mean",
                      "best_format_test_pct_mean", "best_format_test_pct_sd", "best_formats",
                      "format_gain_points", "best_reference", "reference_test_pct_mean",
                      "search_minus_reference_points", "trainings_mean", "seconds_mean"},
                     {}};
  c.references = Table{"references",
                       "Reference models shrunk by width to each budget, same training: test "
                       "accuracy over the seeds of the experiment as written",
                       {"reference", "budget_bytes", "seeds", "test_pct_mean", "test_pct_sd"},
                       {}};

  for (const double budget : budgets) {
    // The references: the experiment's own runs (variant base), one value per seed.
    std::map<std::string, std::vector<double>> reference_pct;
    for (const auto& r : runs) {
      if (r.run.variant != "base") continue;
      for (const auto& ref : r.references) {
        if (ref.budget != budget) continue;
        for (const auto& m : r.models)
          if (m.key == ref.training && m.status == "ok")
            reference_pct[ref.name].push_back(m.test_accuracy * 100);
      }
    }
    std::string best_reference;
    Spread best_ref;
    for (const auto& [name, values] : reference_pct) {
      const Spread s = spread(values);
      c.references.add({name, std::int64_t(budget), std::int64_t(s.n), mean_cell(s), sd_cell(s)});
      if (best_reference.empty() || s.mean > best_ref.mean) best_reference = name, best_ref = s;
    }

    for (const auto& variant : variants) {
      std::vector<double> test, params, bytes, macs, format_test, trainings, seconds;
      std::map<std::string, int> formats;
      std::size_t seeds = 0;
      for (const auto& r : runs) {
        if (r.run.variant != variant) continue;
        ++seeds;
        trainings.push_back(double(r.run.trainings));
        seconds.push_back(r.run.seconds);
        if (const Model* m = best_model(r, budget)) {
          test.push_back(m->test_accuracy * 100);
          params.push_back(double(m->metrics.get("params")));
          bytes.push_back(double(r.float32_bytes.at(m->key)));
          macs.push_back(double(m->metrics.get("macs")));
        }
        if (const FormatPoint* p = best_point(r, budget)) {
          format_test.push_back(p->accuracy * 100);
          ++formats[p->format];
        }
      }
      const Spread t = spread(test), ft = spread(format_test);
      std::string format_names;
      for (const auto& [name, n] : formats)
        format_names += fmt::format("{}{}×{}", format_names.empty() ? "" : ", ", n, name);
      c.ablation.add({variant, std::int64_t(budget), std::int64_t(seeds), mean_cell(t), sd_cell(t),
                      mean_cell(spread(params)), mean_cell(spread(bytes)),
                      mean_cell(spread(macs)), mean_cell(ft), sd_cell(ft), format_names,
                      t.n && ft.n ? real_cell(ft.mean - t.mean) : Cell{}, best_reference,
                      best_ref.n ? real_cell(best_ref.mean) : Cell{},
                      t.n && best_ref.n ? real_cell(t.mean - best_ref.mean) : Cell{},
                      mean_cell(spread(trainings)), mean_cell(spread(seconds))});
      if (variant != "base") continue;
      std::string line = fmt::format("Within {} of float32 weights, the search's best model "
                                     "scores {} on the test set ({} seed{})",
                                     budget_text(budget), pct(t), t.n, t.n == 1 ? "" : "s");
      if (best_ref.n)
        line += fmt::format("; the best shrunk reference, {}, scores {}: the search is {:.1f} "
                            "points {}",
                            best_reference, pct(best_ref), std::abs(t.mean - best_ref.mean),
                            t.mean >= best_ref.mean ? "above it" : "below it");
      else
        line += "; no shrunk reference was trained at this budget";
      if (ft.n && t.n)
        line += fmt::format(". The best model and format within it scores {} ({:+.1f} points "
                            "over float32)",
                            pct(ft), ft.mean - t.mean);
      c.summary.push_back(line + ".");
      if (!t.n) c.summary.back() = fmt::format(
                    "Within {} of float32 weights the search trained no model.", budget_text(budget));
    }
  }

  // Each variant's float32 front over the models of all its seeds, references marked.
  Figure& f = c.fronts;
  f.name = "ablation_fronts";
  f.title = "Variants: accuracy against weight memory";
  f.caption =
      "The Pareto front of test accuracy against float32 weight memory of each variant's search "
      "(the models of all its seeds), one colour per variant; open diamonds mark the reference "
      "models shrunk to each budget.";
  f.table = Table{"ablation_fronts", "Front points of each variant",
                  {"variant", "seed", "training", "hash", "weight_bytes", "test_accuracy_pct"},
                  {}};
  Plot p = accuracy_plot(f.name, "Fronts of the variants",
                         "float32 weight memory (bytes, log scale)");
  p.settings.push_back("set offsets graph 0.05, graph 0.05, 2, 2");
  static const std::vector<std::string> colours{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                "#9467bd", "#8c564b"};
  Series refs;
  refs.title = "shrunk references";
  refs.style = kReferenceMarker;
  for (std::size_t v = 0; v < variants.size(); ++v) {
    std::vector<TradeOff> points;
    std::vector<std::pair<const RunData*, const Model*>> who;
    for (const auto& r : runs) {
      if (r.run.variant != variants[v]) continue;
      const auto& f32 = r.float32_bytes;
      for (const auto& m : r.models) {
        if (m.status != "ok") continue;
        if (!m.reference.empty()) {
          if (variants[v] == "base")
            refs.rows.push_back({double(f32.at(m.key)), m.test_accuracy * 100});
          continue;
        }
        points.push_back({double(f32.at(m.key)), m.test_accuracy * 100});
        who.emplace_back(&r, &m);
      }
    }
    Series s, dots;
    s.title = variants[v] == "base" ? "the experiment" : variants[v];
    s.style = fmt::format("steps lw 2 lc rgb '{}'", colours[v % colours.size()]);
    dots.style = fmt::format("points pt 7 ps 0.9 lc rgb '{}'", colours[v % colours.size()]);
    for (std::size_t i : pareto_indices(points)) {
      s.rows.push_back({points[i].cost, points[i].accuracy});
      dots.rows.push_back({points[i].cost, points[i].accuracy});
      f.table.add({variants[v], std::to_string(who[i].first->run.seed), who[i].second->key,
                   who[i].second->hash, std::int64_t(points[i].cost),
                   real_cell(points[i].accuracy)});
    }
    if (!s.rows.empty()) {
      p.series.push_back(std::move(s));
      p.series.push_back(std::move(dots));
    }
  }
  const bool references_drawn = !refs.rows.empty();
  if (references_drawn) p.series.push_back(std::move(refs));
  if (p.series.empty())
    f.omitted = "the store holds no successful training";
  else if (runs.size() < 2 && !references_drawn)
    f.omitted = "the store holds one run and no shrunk reference: Figure 5 shows it";
  else
    f.plot = std::move(p);
  return c;
}

}  // namespace narrow::report
