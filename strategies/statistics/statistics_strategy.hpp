#pragma once
#include <string>
#include <vector>

#include "narrow/parameters.hpp"
#include "narrow/strategy.hpp"

namespace narrow::strategies {

/// Statistics of a space under its laws, without training and without storing every draw:
/// for each law, `per_law` valid architectures are drawn and analysed, and the stage keeps a
/// histogram of one metric on log-spaced bins, the count of draws below given thresholds, and
/// the Pearson correlation of the logarithms of chosen metrics (per law, per space and over
/// all spaces). Results go to the store (one unit per law) and to CSV files in the run folder:
/// STAGE-histogram.csv and STAGE-correlation.csv. Scheidegger et al. Figure 1 (right) and
/// Figure 2 (left) are made this way.
class StatisticsStrategy final : public Strategy {
 public:
  explicit StatisticsStrategy(const Parameters& p);
  static ParamSchema schema();
  void run(StageContext& context) override;

 private:
  std::int64_t per_law_, bins_per_decade_;
  std::string metric_;
  std::vector<std::int64_t> below_;
  std::vector<std::string> correlate_, spaces_;
};

}  // namespace narrow::strategies
