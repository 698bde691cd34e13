// How well latency predictions match measurements: the median, R² and relative errors.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "narrow/errors.hpp"
#include "narrow/latency_model.hpp"

namespace narrow {

using nlohmann::json;

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

namespace {

double r_squared(const std::vector<double>& p, const std::vector<double>& y) {
  const double mean = std::accumulate(y.begin(), y.end(), 0.0) / double(y.size());
  double res = 0, tot = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    res += (y[i] - p[i]) * (y[i] - p[i]);
    tot += (y[i] - mean) * (y[i] - mean);
  }
  return tot > 0 ? 1 - res / tot : (res == 0 ? 1 : 0);
}

}  // namespace

FitStatistics FitStatistics::of(const std::vector<double>& predicted,
                                const std::vector<double>& measured) {
  if (predicted.size() != measured.size())
    throw Error("internal: predictions and measurements differ in number");
  FitStatistics s;
  s.count = std::int64_t(measured.size());
  if (measured.empty()) return s;
  std::vector<double> pct, lp, ly;
  std::int64_t within = 0;
  for (std::size_t i = 0; i < measured.size(); ++i) {
    const double e = 100 * std::abs(predicted[i] - measured[i]) / measured[i];
    pct.push_back(e);
    within += e <= 10;
    // A non-positive prediction is as far off as the smallest positive value in log space.
    lp.push_back(std::log(std::max(predicted[i], 1e-12)));
    ly.push_back(std::log(measured[i]));
  }
  s.r2 = r_squared(predicted, measured);
  s.r2_log = r_squared(lp, ly);
  s.median_abs_pct_error = median_of(pct);
  s.mean_abs_pct_error = std::accumulate(pct.begin(), pct.end(), 0.0) / double(pct.size());
  s.max_abs_pct_error = *std::max_element(pct.begin(), pct.end());
  s.within_10pct = double(within) / double(measured.size());
  return s;
}

json FitStatistics::to_json() const {
  return json{{"count", count},
              {"r2", r2},
              {"r2_log", r2_log},
              {"median_abs_pct_error", median_abs_pct_error},
              {"mean_abs_pct_error", mean_abs_pct_error},
              {"max_abs_pct_error", max_abs_pct_error},
              {"within_10pct", within_10pct}};
}

FitStatistics FitStatistics::from_json(const json& j) {
  FitStatistics s;
  s.count = j.at("count").get<std::int64_t>();
  s.r2 = j.at("r2").get<double>();
  s.r2_log = j.at("r2_log").get<double>();
  s.median_abs_pct_error = j.at("median_abs_pct_error").get<double>();
  s.mean_abs_pct_error = j.at("mean_abs_pct_error").get<double>();
  s.max_abs_pct_error = j.at("max_abs_pct_error").get<double>();
  s.within_10pct = j.at("within_10pct").get<double>();
  return s;
}

}  // namespace narrow
