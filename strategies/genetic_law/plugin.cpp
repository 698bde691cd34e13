#include "genetic_law_strategy.hpp"
#include "narrow/plugin.hpp"

namespace {
void register_genetic_law(narrow::Registry& registry) {
  registry.add<narrow::strategies::GeneticLawStrategy>(
      "genetic_law",
      "genetic search of sampling laws aimed at windows of a metric (Scheidegger et al. 2019)",
      narrow::strategies::GeneticLawStrategy::schema());
}
}  // namespace

NARROW_PLUGIN("genetic_law", "0.1.0", register_genetic_law)
