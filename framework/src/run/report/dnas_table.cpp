#include "run/report/dnas_table.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "narrow/units.hpp"
#include "run/runs.hpp"

namespace narrow::report {

namespace {

using nlohmann::json;

std::string quantity(const std::string& metric, double v) {
  if (metric == "latency") return seconds_text(v);
  if (metric.size() > 6 && metric.ends_with("_bytes")) return fmt::format("{:.0f} B", v);
  return fmt::format("{:.0f}", v);
}

}  // namespace

DnasTable dnas_table(const std::vector<StoredRun>& runs) {
  DnasTable out;
  Table& t = out.searches;
  t.name = "dnas_searches";
  t.title =
      "Channel searches under cost targets (Burrello et al. 2023): what the export reached, its "
      "accuracy after fine-tuning beside the seed trained alone, and the search's time";
  t.columns = {"variant",          "seed",           "stage",
               "seed_model",       "format",         "targets",
               "reached",          "met",            "worst_vs_target_pct",
               "seed_test_accuracy", "test_accuracy", "accuracy_change_points",
               "search_epoch_vs_training_epoch", "search_seconds", "baseline_seconds"};
  for (const StoredRun& run : runs) {
    const json stages = json::parse(run.stages.empty() ? "{}" : run.stages, nullptr, false);
    if (!stages.is_object()) continue;
    for (const auto& [name, stage] : stages.items()) {
      if (stage.value("strategy", "") != "dnas" || !stage.contains("summary")) continue;
      const json& s = stage["summary"];
      if (!s.is_object() || !s.contains("targets")) continue;
      std::vector<std::string> targets, reached;
      double worst = -1e300;
      for (const auto& x : s["targets"]) {
        const std::string metric = x.value("metric", "");
        const double target = x.value("target", 0.0), value = x.value("exported", 0.0);
        targets.push_back(fmt::format("{} {} ({})", metric, x.value("written", ""),
                                      quantity(metric, target)));
        reached.push_back(fmt::format("{} {} ({:+.1f}% vs seed)", metric, quantity(metric, value),
                                      -100 * x.value("reduction", 0.0)));
        if (target > 0) worst = std::max(worst, 100 * (value / target - 1));
      }
      const bool has_base = s.contains("baseline");
      const double acc = s["model"].value("test_accuracy", 0.0);
      const double base_acc = has_base ? s["baseline"].value("test_accuracy", 0.0) : 0.0;
      const double ratio = s.value("search_vs_training", 0.0);
      t.add({run.variant, static_cast<std::int64_t>(run.seed), name, s.value("seed_name", ""),
             s.value("format", ""), fmt::format("{}", fmt::join(targets, "; ")),
             fmt::format("{}", fmt::join(reached, "; ")), std::string(s.value("met", false) ? "yes" : "no"),
             real_cell(worst), has_base ? real_cell(100 * base_acc) : Cell{}, real_cell(100 * acc),
             has_base ? real_cell(100 * (acc - base_acc)) : Cell{},
             has_base ? real_cell(ratio) : Cell{}, real_cell(s["search"].value("seconds", 0.0)),
             has_base ? real_cell(s["baseline"].value("seconds", 0.0)) : Cell{}});
      out.summary.push_back(fmt::format(
          "{} {} ({}): the export {} every target ({}); test accuracy {:.1f}%{}{}.", run.variant,
          name, s.value("seed_name", ""), s.value("met", false) ? "meets" : "does NOT meet",
          fmt::join(reached, "; "), 100 * acc,
          has_base ? fmt::format(" against {:.1f}% for the seed trained alone ({:+.1f} points)",
                                 100 * base_acc, 100 * (acc - base_acc))
                   : std::string(),
          has_base ? fmt::format("; a search epoch took {:.2f}x a training epoch of the seed", ratio)
                   : std::string()));
    }
  }
  return out;
}

}  // namespace narrow::report
