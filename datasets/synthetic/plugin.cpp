#include "narrow/plugin.hpp"
#include "synthetic_dataset.hpp"

namespace {

void register_synthetic(narrow::Registry& registry) {
  registry.add<narrow::datasets::SyntheticDataset>(
      "synthetic",
      "seeded, learnable images of any shape and class count (class prototype plus Gaussian "
      "noise), for tests",
      narrow::datasets::SyntheticDataset::schema());
}

}  // namespace

NARROW_PLUGIN("synthetic", "0.1.0", register_synthetic)
