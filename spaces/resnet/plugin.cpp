#include "narrow/plugin.hpp"
#include "resnet_space.hpp"

namespace {
void register_resnet(narrow::Registry& registry) {
  registry.add<narrow::spaces::ResNetSpace>(
      "resnet", "CIFAR-style residual networks with basic or bottleneck blocks (He et al. 2016)",
      narrow::spaces::ResNetSpace::schema());
}
}  // namespace

NARROW_PLUGIN("resnet", "0.1.0", register_resnet)
