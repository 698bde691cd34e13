#include "narrow/plugin.hpp"
#include "idx_dataset.hpp"

namespace {

void register_idx(narrow::Registry& registry) {
  registry.add<narrow::datasets::IdxDataset>(
      "idx",
      "images and labels in IDX files, the MNIST family (default: Fashion-MNIST), raw or gzipped",
      narrow::datasets::IdxDataset::schema());
}

}  // namespace

NARROW_PLUGIN("idx", "0.1.0", register_idx)
