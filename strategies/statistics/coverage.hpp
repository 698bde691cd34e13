#pragma once
// How evenly draws cover the decades of a metric, from the statistics strategy's histogram
// (bins of 1/bins_per_decade decade): the number of decades holding at least a share of the
// draws, and the ratio of the fullest to the emptiest decade over a range. Scheidegger et al.
// Figure 4 compares learned laws with uniform sampling this way (docs/paper-figures.md).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>

namespace narrow::strategies {

/// Draws per decade: decade d holds the values in [10^d, 10^(d+1)); bin b of a histogram with
/// `bins_per_decade` bins per decade lies in decade floor(b / bins_per_decade) (bin -1, values
/// of 0, lies in decade -1).
inline std::map<std::int64_t, std::int64_t> decade_counts(
    const std::map<std::int64_t, std::int64_t>& bins, std::int64_t bins_per_decade) {
  std::map<std::int64_t, std::int64_t> out;
  for (const auto& [b, n] : bins) {
    const std::int64_t d = b >= 0 ? b / bins_per_decade : -((-b - 1) / bins_per_decade) - 1;
    out[d] += n;
  }
  return out;
}

/// The number of decades holding at least `share` (e.g. 0.01) of all draws.
inline std::int64_t decades_holding(const std::map<std::int64_t, std::int64_t>& decades,
                                    double share) {
  std::int64_t total = 0, count = 0;
  for (const auto& [d, n] : decades) total += n;
  for (const auto& [d, n] : decades)
    if (total > 0 && double(n) >= share * double(total)) ++count;
  return count;
}

/// Fullest and emptiest decade over decades first .. last-1.
struct DecadeSpread {
  std::int64_t fullest = 0, emptiest = 0;
  /// fullest / emptiest; none when a decade of the range is empty (an unbounded ratio).
  std::optional<double> ratio() const {
    if (emptiest == 0) return std::nullopt;
    return double(fullest) / double(emptiest);
  }
};

inline DecadeSpread decade_spread(const std::map<std::int64_t, std::int64_t>& decades,
                                  std::int64_t first, std::int64_t last) {
  DecadeSpread s;
  s.emptiest = std::numeric_limits<std::int64_t>::max();
  for (std::int64_t d = first; d < last; ++d) {
    const auto it = decades.find(d);
    const std::int64_t n = it == decades.end() ? 0 : it->second;
    s.fullest = std::max(s.fullest, n);
    s.emptiest = std::min(s.emptiest, n);
  }
  if (first >= last) s.emptiest = 0;
  return s;
}

}  // namespace narrow::strategies
