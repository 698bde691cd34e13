// Channel-search costs at channel counts, with their per-channel slopes.
#include "core/channel_costs.hpp"

#include "narrow/channel_search.hpp"

namespace narrow {

ChannelCosts::ChannelCosts(const Architecture& seed, const ChannelGroups& groups,
                           std::vector<std::string> metrics, const NumberFormat* format,
                           const Device* device)
    : seed_(seed), groups_(groups), metrics_(std::move(metrics)), format_(format),
      device_(device) {}

std::vector<double> ChannelCosts::values(const std::vector<std::int64_t>& counts) const {
  const Architecture arch = groups_.with_channels(seed_, counts);
  ++evaluations_;
  std::vector<double> v;
  v.reserve(metrics_.size());
  for (const auto& m : metrics_) v.push_back(channel_cost(m, arch, format_, device_));
  return v;
}

const ChannelCosts::Point& ChannelCosts::at(const std::vector<std::int64_t>& counts) {
  if (auto it = cache_.find(counts); it != cache_.end()) return it->second;
  if (cache_.size() > 4096) cache_.clear();
  Point p;
  p.value = values(counts);
  const std::size_t groups = counts.size();
  p.slope.assign(metrics_.size(), std::vector<double>(groups, 0.0));
  std::vector<std::int64_t> c = counts;
  for (std::size_t g = 0; g < groups; ++g) {
    const std::int64_t n = counts[g], full = groups_.groups()[g].channels;
    if (full < 2) continue;
    const std::int64_t lo = n > 1 ? n - 1 : n, hi = n < full ? n + 1 : n;
    c[g] = lo;
    const std::vector<double> below = lo == n ? p.value : values(c);
    c[g] = hi;
    const std::vector<double> above = hi == n ? p.value : values(c);
    c[g] = n;
    for (std::size_t m = 0; m < metrics_.size(); ++m)
      p.slope[m][g] = (above[m] - below[m]) / static_cast<double>(hi - lo);
  }
  return cache_.emplace(counts, std::move(p)).first->second;
}

}  // namespace narrow
