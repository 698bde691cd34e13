#pragma once
// A differentiable channel search under cost targets (Burrello et al. 2023, PIT-style masks):
// what a search job asks for, the costs it can bound, and the schedule of its penalty weights.
// No LibTorch here: the search itself runs in the engine, as a kind of training job.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "narrow/architecture.hpp"
#include "narrow/export.hpp"

namespace narrow {

class Device;
class NumberFormat;

/// The costs a channel search can bound: every metric of narrow/metrics.hpp except `layers`
/// (which a channel search does not change), `deployed_bytes` (what the device stores in the
/// search's number format, see narrow::deployed_bytes) and `latency` (seconds per inference,
/// as the experiment's device predicts it).
NARROW_API const std::vector<std::string>& channel_cost_names();

/// The value of cost `name` for a finalized architecture: `format` (nullptr: float32) sets the
/// bits of weight_bytes and the stored bits of deployed_bytes; `device` predicts latency.
/// Throws InputError for an unknown name, or for latency without a device that predicts.
NARROW_API double channel_cost(std::string_view name, const Architecture& arch,
                               const NumberFormat* format, const Device* device);

/// One bound: cost `metric` of the exported architecture at most `value`.
struct NARROW_API CostTarget {
  std::string metric;
  double value = 0;
  double lambda = 1;  // the penalty weight the schedule reaches (lambda_at)
};

/// What a channel search does beyond a training (TrainJob::search). The job's architecture is
/// the seed, TrainJob::init_weights its warmed-up weights, TrainJob::config the training of
/// masks and weights together.
struct NARROW_API ChannelSearch {
  std::vector<CostTarget> targets;
  double threshold = 0.5;            // a channel lives while |alpha| > threshold
  double mask_learning_rate = 1.0;   // SGD on the masks, no weight decay, constant
  double ramp = 0.5;                 // lambda ramps over this fraction of the epochs
  std::string format;                // number format text of the costs; empty: float32
  std::string device;                // the device's description JSON; empty: none

  nlohmann::json to_json() const;
  static ChannelSearch from_json(const nlohmann::json& j);
};

/// The penalty weight of a target in epoch `epoch` (0-based) of `epochs`: it rises linearly
/// from lambda/100 at the first epoch to lambda at epoch ramp x epochs, and stays there.
NARROW_API double lambda_at(double lambda, double ramp, std::int64_t epoch, std::int64_t epochs);

/// The penalty of one target: max(0, cost - target) / target.
NARROW_API double target_excess(double cost, double target);

}  // namespace narrow
