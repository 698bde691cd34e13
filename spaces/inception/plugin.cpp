#include "inception_space.hpp"
#include "narrow/plugin.hpp"

namespace {
void register_inception(narrow::Registry& registry) {
  registry.add<narrow::spaces::InceptionSpace>(
      "inception", "GoogLeNet-style networks of Inception modules for small images",
      narrow::spaces::InceptionSpace::schema());
}
}  // namespace

NARROW_PLUGIN("inception", "0.1.0", register_inception)
