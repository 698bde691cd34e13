#include "narrow/plugin.hpp"
#include "statistics_strategy.hpp"

namespace {
void register_statistics(narrow::Registry& registry) {
  registry.add<narrow::strategies::StatisticsStrategy>("statistics",
      "histograms, threshold counts and log-metric correlations of each law, without storing draws",
      narrow::strategies::StatisticsStrategy::schema());
}
}  // namespace

NARROW_PLUGIN("statistics", "0.1.0", register_statistics)
