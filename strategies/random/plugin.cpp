#include "narrow/plugin.hpp"
#include "random_strategy.hpp"

namespace {
void register_random(narrow::Registry& registry) {
  registry.add<narrow::strategies::RandomStrategy>("random",
               "constrained random sampling of every law (Chan et al. Algorithm I)",
               narrow::strategies::RandomStrategy::schema());
}
}  // namespace

NARROW_PLUGIN("random", "0.1.0", register_random)
