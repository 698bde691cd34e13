#include "dnas_strategy.hpp"
#include "narrow/plugin.hpp"

namespace {
void register_dnas(narrow::Registry& registry) {
  registry.add<narrow::strategies::DnasStrategy>(
      "dnas",
      "differentiable channel search under cost targets in one training (Burrello et al. "
      "2023, PIT-style masks): warm-up, search, export, fine-tuning",
      narrow::strategies::DnasStrategy::schema());
}
}  // namespace

NARROW_PLUGIN("dnas", "0.1.0", register_dnas)
