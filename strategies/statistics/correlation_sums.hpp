#pragma once
// The sums behind the statistics strategy's Pearson correlations, kept per law in the store
// (to_json / from_json) so that a resumed run merges them without drawing again.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

namespace narrow::strategies {

// Sums for Pearson correlations of log10 metrics, pair by pair, added in a fixed order so that
// results do not depend on the thread count.
struct CorrelationSums {
  std::int64_t n = 0;
  std::vector<double> s, ss;  // per metric: sum, sum of squares
  std::vector<double> sxy;    // per pair (i < j)
  void resize(std::size_t k) {
    s.assign(k, 0);
    ss.assign(k, 0);
    sxy.assign(k * (k - 1) / 2, 0);
  }
  void add(const std::vector<double>& x) {
    ++n;
    std::size_t p = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      s[i] += x[i];
      ss[i] += x[i] * x[i];
      for (std::size_t j = i + 1; j < x.size(); ++j) sxy[p++] += x[i] * x[j];
    }
  }
  void merge(const CorrelationSums& o) {
    n += o.n;
    for (std::size_t i = 0; i < s.size(); ++i) {
      s[i] += o.s[i];
      ss[i] += o.ss[i];
    }
    for (std::size_t i = 0; i < sxy.size(); ++i) sxy[i] += o.sxy[i];
  }
  /// The Pearson correlation of metrics i and j, p being the index of the pair (i, j) in the
  /// order add() fills sxy: (0,1), (0,2), .., (1,2), ... NaN when fewer than two values were
  /// added or when either metric does not vary: its variance ss - s^2/n is within the
  /// rounding error of the sums (at most 2 n eps ss), which is what a constant metric gives.
  double pearson(std::size_t i, std::size_t j, std::size_t p) const {
    if (n < 2) return std::nan("");
    const double nn = double(n);
    const double cov = sxy[p] - s[i] * s[j] / nn;
    const double vi = ss[i] - s[i] * s[i] / nn, vj = ss[j] - s[j] * s[j] / nn;
    const double noise = 2 * nn * std::numeric_limits<double>::epsilon();
    if (!(vi > noise * ss[i]) || !(vj > noise * ss[j])) return std::nan("");
    return cov / std::sqrt(vi * vj);
  }
  nlohmann::json to_json() const { return {{"n", n}, {"s", s}, {"ss", ss}, {"sxy", sxy}}; }
  static CorrelationSums from_json(const nlohmann::json& j) {
    CorrelationSums x;
    x.n = j.at("n");
    x.s = j.at("s").get<std::vector<double>>();
    x.ss = j.at("ss").get<std::vector<double>>();
    x.sxy = j.at("sxy").get<std::vector<double>>();
    return x;
  }
};

}  // namespace narrow::strategies
