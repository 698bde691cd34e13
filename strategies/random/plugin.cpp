#include "narrow/plugin.hpp"
#include "random_strategy.hpp"

namespace {
void register_random(narrow::Registry& registry) {
  registry.add(narrow::Kind::strategy, "random",
               "constrained random sampling of every law (Chan et al. Algorithm I)",
               narrow::strategies::RandomStrategy::schema(),
               [](const narrow::Parameters& p) -> std::unique_ptr<narrow::Component> {
                 return std::make_unique<narrow::strategies::RandomStrategy>(p);
               });
}
}  // namespace

NARROW_PLUGIN("random", "0.1.0", register_random)
