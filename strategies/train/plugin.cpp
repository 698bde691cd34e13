#include "narrow/plugin.hpp"
#include "train_strategy.hpp"

namespace {
void register_train(narrow::Registry& registry) {
  registry.add(
      narrow::Kind::strategy, "train",
      "select stored architectures (all, the N best by a metric, or a grid of constraint values) "
      "and train them on the experiment's dataset",
      narrow::strategies::TrainStrategy::schema(),
      [](const narrow::Parameters& p) -> std::unique_ptr<narrow::Component> {
        return std::make_unique<narrow::strategies::TrainStrategy>(p);
      });
}
}  // namespace

NARROW_PLUGIN("train", "0.1.0", register_train)
