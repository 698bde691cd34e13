#include "run/report/monte_carlo_tables.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "run/runs.hpp"

namespace narrow::report {

namespace {

using nlohmann::json;

// One monte_carlo stage of one run, as its summary says.
struct Search {
  const StoredRun* run = nullptr;
  std::string stage;
  double seconds = 0;
  json summary;
};

std::vector<Search> searches(const std::vector<StoredRun>& runs) {
  std::vector<Search> out;
  for (const StoredRun& run : runs) {
    const json stages = json::parse(run.stages.empty() ? "{}" : run.stages, nullptr, false);
    if (!stages.is_object()) continue;
    for (const auto& [name, stage] : stages.items()) {
      if (stage.value("strategy", "") != "monte_carlo" || !stage.contains("summary")) continue;
      const json& summary = stage["summary"];
      if (!summary.is_object() || !summary.contains("accepted")) continue;
      out.push_back({&run, name, stage.value("seconds", 0.0), summary});
    }
  }
  // Within a run, the searches without bounds from another first (the summaries are kept by
  // stage name, not in the experiment's order).
  auto bounded = [](const Search& s) { return !s.summary.value("bounds_from", "").empty(); };
  std::stable_sort(out.begin(), out.end(), [&](const Search& a, const Search& b) {
    // The runs are in the order of `runs`, one vector: their addresses keep that order.
    if (a.run != b.run) return std::less<const StoredRun*>()(a.run, b.run);
    return !bounded(a) && bounded(b);
  });
  return out;
}

double metric(const json& accepted, const char* name) {
  return accepted.at("metrics").at(name).get<double>();
}

Table variants_table(const std::vector<Search>& all) {
  Table t;
  t.name = "monte_carlo_variants";
  t.title =
      "Monte Carlo searches per variant (Chan et al. Table 1 layout): the accepted model and the "
      "ensemble, mean and standard deviation over the seeds";
  t.columns = {"variant", "stage", "seeds", "workers", "dispatch", "parents", "moves", "samples",
               "test_pct_mean", "test_pct_sd", "params_mean", "memory_eq6_bytes_mean",
               "flops_mean", "trained_mean", "seconds_mean", "seconds_sd", "ensemble_members",
               "ensemble_test_pct_mean", "ensemble_test_pct_sd", "ensemble_params_mean",
               "ensemble_memory_eq6_bytes_mean", "ensemble_flops_mean"};
  // Groups in the order they first appear.
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>, std::vector<const Search*>> groups;
  for (const Search& s : all) {
    const auto key = std::make_pair(s.run->variant, s.stage);
    if (!groups.count(key)) order.push_back(key);
    groups[key].push_back(&s);
  }
  for (const auto& key : order) {
    const auto& members = groups.at(key);
    std::vector<double> test, params, memory, flops, trained, seconds, e_test, e_params, e_memory,
        e_flops;
    std::int64_t e_members = 0;
    for (const Search* s : members) {
      const json& a = s->summary.at("accepted");
      test.push_back(100 * a.at("test_accuracy").get<double>());
      params.push_back(metric(a, "params"));
      memory.push_back(metric(a, "memory_eq6_bytes"));
      flops.push_back(metric(a, "flops"));
      trained.push_back(s->summary.value("trained", 0.0));
      seconds.push_back(s->seconds);
      if (s->summary.contains("ensemble")) {
        const json& e = s->summary["ensemble"];
        e_members = std::int64_t(e.at("members").size());
        e_test.push_back(100 * e.at("test_accuracy").get<double>());
        e_params.push_back(metric(e, "params"));
        e_memory.push_back(metric(e, "memory_eq6_bytes"));
        e_flops.push_back(metric(e, "flops"));
      }
    }
    const json& first = members.front()->summary;
    const Spread t_s = spread(test), sec = spread(seconds), e_t = spread(e_test);
    t.add({key.first, key.second, std::int64_t(members.size()),
           first.value("workers", std::int64_t{1}), first.value("dispatch", std::string()),
           first.value("parents", std::int64_t{1}),
           std::string(first.value("moves", true) ? "yes" : "no"),
           first.value("samples", std::int64_t{0}), mean_cell(t_s), sd_cell(t_s),
           mean_cell(spread(params)), mean_cell(spread(memory)), mean_cell(spread(flops)),
           mean_cell(spread(trained)), mean_cell(sec), sd_cell(sec),
           e_members ? Cell{e_members} : Cell{}, mean_cell(e_t), sd_cell(e_t),
           mean_cell(spread(e_params)), mean_cell(spread(e_memory)), mean_cell(spread(e_flops))});
  }
  return t;
}

}  // namespace

MonteCarloTables monte_carlo_tables(const std::vector<StoredRun>& runs) {
  MonteCarloTables out;
  const std::vector<Search> all = searches(runs);
  out.variants = variants_table(all);

  Table& t = out.bounds;
  t.name = "monte_carlo_bounds";
  t.title =
      "Monte Carlo searches bounded by a fraction of an unbounded search's accepted model "
      "(Chan et al. Table 2 layout)";
  t.columns = {"seed",   "variant", "stage", "target_pct", "test_pct",  "params",
               "memory_eq6_bytes", "flops", "memory_pct", "flops_pct", "loss_points"};
  // The rows: per seed the unbounded search once, then each bounded search once (variants that
  // share a stage at a seed share its result).
  struct Row {
    std::uint64_t seed;
    double target;
    std::vector<Cell> cells;
  };
  std::vector<Row> rows;
  std::set<std::string> seen;  // seed|stage|training of the accepted model
  // By target and by whether the search moved (false: the random phase alone), the largest
  // target first: loss, memory %, flops % and the unbounded model's test accuracy of each.
  // Ordered by target, largest first, then the base before the variants.
  using Group = std::tuple<double, bool, std::string, bool>;  // -target, a variant, its name, moves
  std::map<Group, std::vector<std::array<double, 4>>> by_target;
  for (const Search& s : all) {
    const std::string from = s.summary.value("bounds_from", "");
    if (from.empty()) continue;
    const auto base = std::find_if(all.begin(), all.end(), [&](const Search& b) {
      return b.run == s.run && b.stage == from;
    });
    if (base == all.end()) continue;
    const json& b = base->summary.at("accepted");
    const json& a = s.summary.at("accepted");
    const double b_test = 100 * b.at("test_accuracy").get<double>();
    const std::uint64_t seed = s.run->seed;
    if (seen.insert(fmt::format("{}|{}|{}", seed, from, b.at("training").get<std::string>()))
            .second)
      rows.push_back({seed, 100,
                      {std::int64_t(seed), s.run->variant, from, 100.0, b_test,
                       std::int64_t(metric(b, "params")), std::int64_t(metric(b, "memory_eq6_bytes")),
                       std::int64_t(metric(b, "flops")), 100.0, 100.0, 0.0}});
    if (!seen.insert(fmt::format("{}|{}|{}", seed, s.stage, a.at("training").get<std::string>()))
             .second)
      continue;
    const double target = 100 * s.summary.value("fraction", 1.0);
    const double test = 100 * a.at("test_accuracy").get<double>();
    const double memory_pct = 100 * metric(a, "memory_eq6_bytes") / metric(b, "memory_eq6_bytes");
    const double flops_pct = 100 * metric(a, "flops") / metric(b, "flops");
    rows.push_back({seed, target,
                    {std::int64_t(seed), s.run->variant, s.stage, target, test,
                     std::int64_t(metric(a, "params")), std::int64_t(metric(a, "memory_eq6_bytes")),
                     std::int64_t(metric(a, "flops")), memory_pct, flops_pct, b_test - test}});
    by_target[{-target, s.run->variant != "base", s.run->variant, s.summary.value("moves", true)}]
        .push_back(
        {b_test - test, memory_pct, flops_pct, b_test});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) {
    return x.seed != y.seed ? x.seed < y.seed : x.target > y.target;
  });
  for (auto& r : rows) t.add(std::move(r.cells));
  for (const auto& [group, values] : by_target) {
    std::vector<double> loss, memory, flops, unbounded;
    for (const auto& v : values) {
      loss.push_back(v[0]);
      memory.push_back(v[1]);
      flops.push_back(v[2]);
      unbounded.push_back(v[3]);
    }
    const Spread l = spread(loss);
    out.summary.push_back(fmt::format(
        "{}{} bounded to {:g} % of the unbounded model's memory and FLOPs: {:.1f} points of "
        "test accuracy lost{} from {:.1f} %, at {:.0f} % of its memory and {:.0f} % of its "
        "FLOPs (mean of {} bounded search{}).",
        std::get<3>(group) ? "Monte Carlo" : "The random phase alone",
        std::get<1>(group) ? fmt::format(" (variant {})", std::get<2>(group)) : std::string(),
        -std::get<0>(group), l.mean,
        l.sd ? fmt::format(" ± {:.1f}", *l.sd) : std::string(), spread(unbounded).mean,
        spread(memory).mean, spread(flops).mean, l.n, l.n == 1 ? "" : "es"));
  }
  return out;
}

}  // namespace narrow::report
