#pragma once
// The constraints of an experiment: upper bounds on metrics and on the device's latency.
#include <string>
#include <vector>

#include "narrow/architecture.hpp"
#include "narrow/errors.hpp"
#include "narrow/export.hpp"
#include "narrow/metrics.hpp"

namespace narrow {

class Device;

/// An upper bound on a metric, from the experiment's `constraints`.
struct NARROW_API Constraint {
  std::string metric;  // a name of metric_names, or "latency" (seconds, of the device)
  double max = 0;      // inclusive upper bound, in the metric's base unit
  std::string text;    // as written, e.g. "64KiB"; "device flash" for bounds of `fits: device`
  SourceLocation where;
  bool from_device = false;  // set by `fits: device` from the device's capacities
};

/// The constraints of an experiment.
struct NARROW_API Constraints {
  std::vector<Constraint> bounds;
  /// The device that predicts `latency` (set when a latency bound exists); it outlives the
  /// run. Its predict() is called from several threads at once.
  const Device* device = nullptr;
  /// The first bound the metrics violate, or nullptr when all hold. A latency bound needs the
  /// architecture: with `arch` null, latency bounds are not checked. `latency`, when given,
  /// receives the predicted seconds (0 without a latency bound).
  const Constraint* violated(const Metrics& m, const Architecture* arch = nullptr,
                             double* latency = nullptr) const;
  /// "weight_bytes 70144 > 64KiB", "latency 12.1ms > 10ms (predicted)" for a violated bound;
  /// "(measured)" when `latency` is a measured value.
  static std::string describe(const Constraint& c, const Metrics& m, double latency = 0,
                              bool measured = false);
  /// The latency bound, or nullptr when there is none.
  const Constraint* latency_bound() const;
  /// A text of every bound (and of the device predicting latency), for content keys.
  std::string key() const;
};

}  // namespace narrow
