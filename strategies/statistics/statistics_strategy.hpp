#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "narrow/laws.hpp"

#include "narrow/parameters.hpp"
#include "narrow/strategy.hpp"

namespace narrow::strategies {

struct LawResult;

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
  void check(const StagePlan& plan) const override;

 private:
  nlohmann::json write_coverage(StageContext& ctx, const std::vector<const LawResult*>& rows) const;
  nlohmann::json write_windows(
      StageContext& ctx, const std::vector<LawResult>& results,
      const std::map<std::pair<std::string, std::string>, LawTarget>& targets) const;

  std::int64_t per_law_, bins_per_decade_;
  std::string metric_;
  std::vector<std::int64_t> below_;
  std::vector<std::string> correlate_, spaces_;
  std::string laws_;
  bool pool_;
  std::vector<std::int64_t> range_;
};

}  // namespace narrow::strategies
