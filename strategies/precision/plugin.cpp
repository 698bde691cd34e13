#include "narrow/plugin.hpp"
#include "precision_strategy.hpp"

namespace {
void register_precision(narrow::Registry& registry) {
  registry.add(
      narrow::Kind::strategy, "precision",
      "evaluate the trained models in every number format of the experiment (weights and "
      "activations rounded) and report the best format per model and the Pareto fronts",
      narrow::strategies::PrecisionStrategy::schema(),
      [](const narrow::Parameters& p) -> std::unique_ptr<narrow::Component> {
        return std::make_unique<narrow::strategies::PrecisionStrategy>(p);
      });
}
}  // namespace

NARROW_PLUGIN("precision", "0.1.0", register_precision)
