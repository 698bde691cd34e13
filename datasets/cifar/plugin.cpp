#include "narrow/plugin.hpp"
#include "cifar_dataset.hpp"

namespace {

void register_cifar(narrow::Registry& registry) {
  registry.add<narrow::datasets::CifarDataset>(
      "cifar", "CIFAR-10 or CIFAR-100, binary version, raw or gzipped",
      narrow::datasets::CifarDataset::schema());
}

}  // namespace

NARROW_PLUGIN("cifar", "0.1.0", register_cifar)
