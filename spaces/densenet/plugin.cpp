#include "densenet_space.hpp"
#include "narrow/plugin.hpp"

namespace {
void register_densenet(narrow::Registry& registry) {
  registry.add<narrow::spaces::DenseNetSpace>(
      "densenet", "DenseNet and DenseNet-BC for small images (Huang et al. 2017)",
      narrow::spaces::DenseNetSpace::schema());
}
}  // namespace

NARROW_PLUGIN("densenet", "0.1.0", register_densenet)
