#include "narrow/plugin.hpp"
#include "train_strategy.hpp"

namespace {
void register_train(narrow::Registry& registry) {
  registry.add<narrow::strategies::TrainStrategy>("train",
      "select stored architectures (all, the N best by a metric, or a grid of constraint values) "
      "and train them on the experiment's dataset",
      narrow::strategies::TrainStrategy::schema());
}
}  // namespace

NARROW_PLUGIN("train", "0.1.0", register_train)
