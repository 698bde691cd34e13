#include "narrow/pareto.hpp"

#include <algorithm>
#include <numeric>

namespace narrow {

std::vector<std::size_t> pareto_indices(const std::vector<TradeOff>& points) {
  std::vector<std::size_t> order(points.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  // By cost ascending, then accuracy descending (stable: equal points stay in input order);
  // the front is every point more accurate than all points before it.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (points[a].cost != points[b].cost) return points[a].cost < points[b].cost;
    return points[a].accuracy > points[b].accuracy;
  });
  std::vector<std::size_t> front;
  for (std::size_t i : order)
    if (front.empty() || points[i].accuracy > points[front.back()].accuracy) front.push_back(i);
  return front;
}

std::vector<std::size_t> pareto_front(const std::vector<PrecisionPoint>& points,
                                      const std::vector<std::size_t>& among) {
  std::vector<std::size_t> chosen = among;
  if (chosen.empty()) {
    chosen.resize(points.size());
    std::iota(chosen.begin(), chosen.end(), std::size_t{0});
  }
  std::vector<TradeOff> trade_offs;
  trade_offs.reserve(chosen.size());
  for (std::size_t i : chosen)
    trade_offs.push_back(
        TradeOff{double(points[i].result.weight_bytes), points[i].result.evaluation.accuracy});
  std::vector<std::size_t> front = pareto_indices(trade_offs);
  for (auto& i : front) i = chosen[i];
  return front;
}

std::map<std::string, std::size_t> best_formats(const std::vector<PrecisionPoint>& points,
                                                double max_drop) {
  std::map<std::string, double> reference;
  for (const auto& p : points)
    if (p.result.format == "float32") reference[p.model] = p.result.evaluation.accuracy;
  std::map<std::string, std::size_t> best;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const auto& p = points[i];
    const auto ref = reference.find(p.model);
    if (ref == reference.end()) continue;
    // A small tolerance so that a drop of exactly max_drop counts as within it.
    if (p.result.evaluation.accuracy + 1e-12 < ref->second - max_drop) continue;
    auto it = best.find(p.model);
    if (it == best.end()) {
      best.emplace(p.model, i);
      continue;
    }
    const auto& b = points[it->second].result;
    if (p.result.weight_bytes < b.weight_bytes ||
        (p.result.weight_bytes == b.weight_bytes &&
         p.result.evaluation.accuracy > b.evaluation.accuracy))
      it->second = i;
  }
  return best;
}

std::optional<std::string> best_format_of_width(const std::vector<PrecisionPoint>& points,
                                                int bits) {
  std::map<std::string, std::pair<double, int>> sums;  // format: accuracy sum, models
  for (const auto& p : points)
    if (p.result.bits == bits && p.result.format != "float32") {
      auto& s = sums[p.result.format];
      s.first += p.result.evaluation.accuracy;
      ++s.second;
    }
  std::optional<std::string> best;
  double best_mean = -1;
  for (const auto& [name, s] : sums) {  // in name order: the first of equal means wins
    const double mean = s.first / s.second;
    if (mean > best_mean) {
      best_mean = mean;
      best = name;
    }
  }
  return best;
}

}  // namespace narrow
