#pragma once
// The costs of a channel search as functions of the groups' channel counts: the value is the
// kernel's own figure for the architecture at those counts (ChannelGroups::with_channels), and
// the slope along each group the change of that figure per channel (a central difference where
// both neighbours exist), which is exact for costs linear or quadratic in each count.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/channel_groups.hpp"
#include "narrow/architecture.hpp"
#include "narrow/export.hpp"

namespace narrow {

class Device;
class NumberFormat;

class NARROW_API ChannelCosts {
 public:
  /// `metrics` are channel_cost_names(); `format` and `device` as for channel_cost, and they
  /// must outlive this object.
  ChannelCosts(const Architecture& seed, const ChannelGroups& groups,
               std::vector<std::string> metrics, const NumberFormat* format,
               const Device* device);

  struct Point {
    std::vector<double> value;               // per metric
    std::vector<std::vector<double>> slope;  // [metric][group]
  };
  /// The costs at `counts` (one per group, each in 1..channels), with their slopes; kept for
  /// the next call at the same counts.
  const Point& at(const std::vector<std::int64_t>& counts);
  /// The costs alone.
  std::vector<double> values(const std::vector<std::int64_t>& counts) const;
  /// Evaluations of the architecture made so far (what the cache saved is calls - this).
  std::int64_t evaluations() const { return evaluations_; }

 private:
  const Architecture& seed_;
  const ChannelGroups& groups_;
  std::vector<std::string> metrics_;
  const NumberFormat* format_;
  const Device* device_;
  std::map<std::vector<std::int64_t>, Point> cache_;
  mutable std::int64_t evaluations_ = 0;
};

}  // namespace narrow
