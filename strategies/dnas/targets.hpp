#pragma once
// The cost targets of a dnas stage as users write them: {metric: value, ...}, each value an
// absolute quantity (16KiB, 2ms, 50k) or a percentage of the seed's cost (20%).
#include <string>
#include <string_view>
#include <vector>

namespace narrow::strategies {

struct TargetSpec {
  std::string metric;
  std::string text;      // as written: "20%", "16KiB"
  double value = 0;      // the quantity in its base unit, or the fraction (0.2 for 20%)
  bool fraction = false;
  /// The target for a seed whose cost is `seed_cost`.
  double resolve(double seed_cost) const { return fraction ? value * seed_cost : value; }
};

/// Parses "{deployed_bytes: 20%, latency: 2ms}" (or without braces). Throws
/// ParameterError("targets") naming the item at fault and what is allowed: an unknown metric
/// (channel_cost_names), a metric given twice, a malformed value, a value of another dimension
/// than the metric's, a percentage outside (0, 100), a value <= 0, or no target at all.
std::vector<TargetSpec> parse_targets(std::string_view text);

}  // namespace narrow::strategies
