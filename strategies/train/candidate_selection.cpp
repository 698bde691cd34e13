// The selection rules of the `train` strategy (candidate_selection.hpp).
#include "candidate_selection.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace narrow::strategies {

std::vector<ArchitectureRecord> select_candidates(std::vector<ArchitectureRecord> c,
                                                  const std::string& rule, std::int64_t count,
                                                  const std::string& metric,
                                                  const std::string& order,
                                                  const std::string& rank,
                                                  std::int64_t per_budget,
                                                  std::vector<double> budgets) {
  std::sort(c.begin(), c.end(), [&](const auto& a, const auto& b) {
    const auto x = a.metrics.get(metric), y = b.metrics.get(metric);
    return x != y ? x < y : a.hash < b.hash;
  });
  const auto n = static_cast<std::int64_t>(c.size());
  const bool fixed = rule == "grid" && !budgets.empty();
  if (rule == "all" || (!fixed && n <= count * (rule == "grid" ? per_budget : 1))) return c;
  if (rule == "best") {
    if (order == "largest") std::reverse(c.begin(), c.end());
    c.resize(static_cast<std::size_t>(count));
    return c;
  }
  // grid: thresholds from the largest value down to the smallest, evenly spaced in log; or
  // the given budgets from the smallest up.
  if (fixed) {
    std::sort(budgets.begin(), budgets.end());
  } else {
    const double lo = std::max<double>(1, static_cast<double>(c.front().metrics.get(metric)));
    const double hi = std::max<double>(lo, static_cast<double>(c.back().metrics.get(metric)));
    for (std::int64_t k = 0; k < count; ++k)
      budgets.push_back(count == 1 ? hi
                                   : std::exp(std::log(hi) - (std::log(hi) - std::log(lo)) *
                                                                 double(k) / double(count - 1)));
  }
  std::set<std::size_t> chosen;
  for (const double t : budgets) {
    for (std::int64_t taken = 0; taken < per_budget && std::int64_t(chosen.size()) < n;
         ++taken) {
      // The free candidate within t with the largest rank (of equal ranks, the larger metric,
      // then the later hash: with rank = metric, the one that fills the budget most); when
      // every one within t is taken, the smallest one above it that is free.
      std::int64_t pick = -1;
      for (std::int64_t i = n - 1; i >= 0; --i) {
        const auto& ci = c[std::size_t(i)];
        if (double(ci.metrics.get(metric)) > t * (1 + 1e-12) || chosen.count(std::size_t(i)))
          continue;
        if (pick < 0 || ci.metrics.get(rank) > c[std::size_t(pick)].metrics.get(rank)) pick = i;
      }
      if (pick < 0 && fixed) break;
      if (pick < 0)
        for (std::int64_t i = 0; i < n; ++i)
          if (!chosen.count(std::size_t(i))) {
            pick = i;
            break;
          }
      chosen.insert(std::size_t(pick));
    }
  }
  std::vector<ArchitectureRecord> out;
  for (std::size_t i : chosen) out.push_back(std::move(c[i]));
  return out;
}

}  // namespace narrow::strategies
