#include "narrow/plugin.hpp"
#include "sequential_space.hpp"

namespace {
void register_sequential(narrow::Registry& registry) {
  registry.add<narrow::spaces::SequentialSpace>(
      "sequential", "plain conv stacks with pooling and fully-connected layers (Chan et al. 3.2)",
      narrow::spaces::SequentialSpace::schema());
}
}  // namespace

NARROW_PLUGIN("sequential", "0.1.0", register_sequential)
