#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "narrow/format.hpp"
#include "narrow/parameters.hpp"
#include "narrow/strategy.hpp"
#include "narrow/training.hpp"

namespace narrow::strategies {

/// The precision analysis of Scheidegger et al. 3.2 as a stage: every trained model of the
/// store (or of stage `from`, or its `count` most accurate) evaluated in every number format of
/// the experiment's `formats:` (the 184 types ieee(1..8,1..23) when it lists none), batch norm
/// folded, every parameter and activation map rounded. Each (model, format) evaluation is a
/// unit in the store's `precisions` table. At the end: each model's best format within
/// `max_drop`, and the Pareto fronts of (memory, accuracy) of Figure 5: float32, the
/// best format of each width in `front_bits`, and each model in its own best format.
class PrecisionStrategy final : public Strategy {
 public:
  explicit PrecisionStrategy(const Parameters& p);
  static ParamSchema schema();
  void run(StageContext& context) override;

 private:
  /// Prints and stores the results of this stage for `trainings`: the best format per model,
  /// the fronts, accuracy within memory budgets; writes STAGE.precision.csv and
  /// STAGE.fronts.csv into the run folder.
  void summarize(StageContext& context, const std::vector<TrainResult>& trainings,
                 const std::string& rounding) const;

  std::string from_, split_;
  std::int64_t count_;
  Rounding rounding_ = Rounding::nearest_even;
  double max_drop_;
  std::vector<std::int64_t> front_bits_;
};

}  // namespace narrow::strategies
