#include "narrow/plugin.hpp"
#include "statistics_strategy.hpp"

namespace {
void register_statistics(narrow::Registry& registry) {
  registry.add(
      narrow::Kind::strategy, "statistics",
      "histograms, threshold counts and log-metric correlations of each law, without storing draws",
      narrow::strategies::StatisticsStrategy::schema(),
      [](const narrow::Parameters& p) -> std::unique_ptr<narrow::Component> {
        return std::make_unique<narrow::strategies::StatisticsStrategy>(p);
      });
}
}  // namespace

NARROW_PLUGIN("statistics", "0.1.0", register_statistics)
