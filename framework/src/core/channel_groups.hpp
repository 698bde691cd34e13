#pragma once
// Which output channels of an architecture a channel search may remove, and the architecture
// that remains at given channel counts. No LibTorch: the engine's masked training and export,
// and the cost model, both read this.
#include <cstdint>
#include <vector>

#include "narrow/architecture.hpp"
#include "narrow/export.hpp"

namespace narrow {

/// A run of channels of a tensor: `count` channels that belong to group `group` (-1: channels
/// no search removes, such as the network input's), each `per` values wide (1 for a feature
/// map; H x W after a flatten, whose values are channel-major).
struct NARROW_API ChannelSegment {
  int group = -1;
  std::int64_t count = 0;
  std::int64_t per = 1;
  friend bool operator==(const ChannelSegment&, const ChannelSegment&) = default;
};

/// The channel groups of a finalized architecture. Every convolution (groups = 1) and linear
/// layer except the network's output layer makes a group of its output channels; batch norm,
/// activations, pooling, dropout and depthwise convolutions carry their input's channels on;
/// a concatenation lists its inputs' runs; an add ties the groups of its inputs into one (they
/// must keep the same channels for the sum to exist). A group that meets channels no search
/// removes (the network input, the output layer's, a grouped convolution that is not
/// depthwise, or an add whose inputs are laid out differently) is fixed and is no group.
class NARROW_API ChannelGroups {
 public:
  struct Group {
    std::int64_t channels = 0;     // the architecture's channel count
    std::vector<int> producers;    // the layers that make these channels (conv2d, linear)
  };

  static ChannelGroups of(const Architecture& arch);

  const std::vector<Group>& groups() const { return groups_; }
  /// The runs of channels of layer i's output, in channel order.
  const std::vector<ChannelSegment>& segments(std::size_t layer) const { return segments_.at(layer); }
  /// The runs of the network input: one fixed run.
  const std::vector<ChannelSegment>& input_segments() const { return input_segments_; }
  /// The runs of the k-th input of layer i.
  const std::vector<ChannelSegment>& input_segments(const Architecture& arch, std::size_t layer,
                                                    std::size_t k = 0) const;
  /// Whether layer i's output holds channels of some group (what a mask multiplies).
  bool masked(std::size_t layer) const;

  /// Every group at its full channel count.
  std::vector<std::int64_t> full_counts() const;
  /// The architecture with group g's producers at counts[g] channels (depthwise convolutions
  /// follow their input). Every count must be in 1..channels; throws InputError otherwise.
  /// Returns a finalized architecture with the same layer ids.
  Architecture with_channels(const Architecture& arch,
                             const std::vector<std::int64_t>& counts) const;

 private:
  std::vector<Group> groups_;
  std::vector<std::vector<ChannelSegment>> segments_;
  std::vector<ChannelSegment> input_segments_;
};

/// The indices, in a tensor's channel-major value order, of the values that remain when each
/// group g keeps the channels kept[g] (sorted, 0-based): what export copies of a layer's input
/// or output. Fixed runs keep every value.
NARROW_API std::vector<std::int64_t> kept_values(const std::vector<ChannelSegment>& segments,
                                                 const std::vector<std::vector<std::int64_t>>& kept);

}  // namespace narrow
