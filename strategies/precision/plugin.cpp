#include "narrow/plugin.hpp"
#include "precision_strategy.hpp"

namespace {
void register_precision(narrow::Registry& registry) {
  registry.add<narrow::strategies::PrecisionStrategy>("precision",
      "evaluate the trained models in every number format of the experiment (weights and "
      "activations rounded) and report the best format per model and the Pareto fronts",
      narrow::strategies::PrecisionStrategy::schema());
}
}  // namespace

NARROW_PLUGIN("precision", "0.1.0", register_precision)
