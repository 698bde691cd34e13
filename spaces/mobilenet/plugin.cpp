#include "narrow/plugin.hpp"
#include "mobilenet_space.hpp"

namespace {
void register_mobilenet(narrow::Registry& registry) {
  registry.add<narrow::spaces::MobileNetSpace>(
      "mobilenet", "depthwise-separable stacks in the style of MobileNetV1 (Howard et al. 2017)",
      narrow::spaces::MobileNetSpace::schema());
}
}  // namespace

NARROW_PLUGIN("mobilenet", "0.1.0", register_mobilenet)
