#include "narrow/plugin.hpp"
#include "spectral_strategy.hpp"

namespace {
void register_spectral(narrow::Registry& registry) {
  registry.add<narrow::strategies::SpectralStrategy>(
      "spectral",
      "spectral clustering of the final populations of a genetic_law stage: the best law of "
      "each of k clusters (Scheidegger et al. section 4)",
      narrow::strategies::SpectralStrategy::schema());
}
}  // namespace

NARROW_PLUGIN("spectral", "0.1.0", register_spectral)
