#pragma once
// Which of the accepted architectures a `train` stage trains (train_strategy.hpp lists the
// rules); apart so that tests check the rules on hand-made candidates.
#include <cstdint>
#include <string>
#include <vector>

#include "narrow/store.hpp"

namespace narrow::strategies {

/// The selection rule alone: `all`, `best` (the `count` with the largest or smallest `metric`,
/// as `order` says) or `grid` (`count` budgets of `metric` spaced logarithmically between the
/// smallest and the largest candidate; in each, the `per_budget` free candidates with the
/// largest `rank` within it, or the smallest free ones above it when none is left within).
/// With `budgets` given, `grid` takes them (in the metric's unit) instead of the log grid:
/// from the smallest budget up, the `per_budget` free candidates with the largest `rank`
/// within each, and none above it (a budget that holds fewer trains fewer).
/// Ties are broken by metric, then hash, so the choice is reproducible.
std::vector<ArchitectureRecord> select_candidates(std::vector<ArchitectureRecord> candidates,
                                                  const std::string& rule, std::int64_t count,
                                                  const std::string& metric,
                                                  const std::string& order,
                                                  const std::string& rank,
                                                  std::int64_t per_budget = 1,
                                                  std::vector<double> budgets = {});

}  // namespace narrow::strategies
