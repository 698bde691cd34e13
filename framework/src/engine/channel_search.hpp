#pragma once
// The channel search in LibTorch: masks on the output channels of a seed network, trained with
// its weights under cost penalties, then the pruned network exported with its weights. Only
// translation units that hold tensors include this.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/channel_costs.hpp"
#include "core/channel_groups.hpp"
#include "engine/builder.hpp"
#include "narrow/export.hpp"
#include "narrow/training.hpp"

namespace narrow {

class Registry;

/// A mask per channel group: one float alpha per channel (requires grad).
struct NARROW_API ChannelMasks {
  std::vector<torch::Tensor> alpha;  // [channels] per group
  double threshold = 0.5;

  /// Alphas at 1 for every channel of every group.
  static ChannelMasks ones(const ChannelGroups& groups, double threshold);
  /// The binarised mask of group g in the forward pass, |alpha| > threshold, with the last
  /// channel always 1; its gradient is the identity to alpha (straight-through), except for
  /// the last channel, which has none.
  torch::Tensor binary(std::size_t g) const;
  /// The channels group g keeps (sorted), and how many.
  std::vector<std::int64_t> kept(std::size_t g) const;
  std::vector<std::int64_t> counts() const;
};

/// The mask of every layer whose output holds group channels (undefined elsewhere), from the
/// groups' binary masks: what GraphModuleImpl::set_output_masks takes.
NARROW_API std::vector<torch::Tensor> layer_masks(const Architecture& arch,
                                                  const ChannelGroups& groups,
                                                  const std::vector<torch::Tensor>& binary);

/// The seed network without the channels the masks remove: the architecture at the kept
/// counts, and a module holding the seed's weights of the kept channels. On every input it
/// computes what the masked seed computes.
NARROW_API GraphModule export_pruned(const Architecture& seed, GraphModule& seeded,
                                     const ChannelGroups& groups, const ChannelMasks& masks);

/// What fit_to_targets changed.
struct ChannelFit {
  std::int64_t trimmed = 0;  // channels removed to meet the targets
  std::int64_t filled = 0;   // channels given back while every target stays met
};

/// Brings the masks to the targets' edge: while a target is exceeded, the living channel with
/// the smallest |alpha| is removed (never a group's last); then, from the largest |alpha| down,
/// every removed channel whose return keeps every target met comes back. `costs` gives the
/// costs in the order of `targets` (values at most targets[i]). Deterministic.
NARROW_API ChannelFit fit_to_targets(ChannelMasks& masks, ChannelCosts& costs,
                                     const std::vector<double>& targets);

/// Runs a channel-search job (job.search set) on `data`: loads job.init_weights into the seed,
/// trains masks and weights together with job.config under the penalties, exports the pruned
/// network and evaluates it. The result's architecture_json/hash are the export's, its weights
/// the export's, its details the search's report (JSON).
NARROW_API TrainResult search_channels(const Registry& registry, const TrainJob& job,
                                       const PreparedData& data, int threads,
                                       const std::function<void(const EpochRecord&)>& on_epoch);

}  // namespace narrow
