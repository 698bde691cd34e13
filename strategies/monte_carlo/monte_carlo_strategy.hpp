#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "narrow/ensemble.hpp"
#include "narrow/parameters.hpp"
#include "narrow/strategy.hpp"
#include "narrow/training.hpp"
#include "search.hpp"

namespace narrow::strategies {

/// Constrained Monte Carlo architecture learning (Chan et al. 2018): random draws within the
/// constraints, then adaptive samples moved from the best so far by meta and layer moves with
/// coordinate descent, the first ones trained for a few iterations (traction) and the last to
/// the full budget. Every sample trains through the training service as a stream (a free
/// worker gets the next sample at once) and is stored as a training plus a record of kind
/// `monte_carlo.sample` (its phase, parent, move and objective); the stage ends with a record
/// of kind `monte_carlo.result`, the accepted model. `bounds_from` bounds the search by a
/// fraction of an earlier Monte Carlo stage's accepted model (Chan et al. Table 2).
class MonteCarloStrategy final : public Strategy {
 public:
  explicit MonteCarloStrategy(const Parameters& p);
  static ParamSchema schema();
  void run(StageContext& context) override;
  void check(const StagePlan& plan) const override;

 private:
  /// The experiment's constraints, with the bounds `bounds_from` and `fraction` give.
  Constraints constraints(StageContext& ctx) const;
  /// The ensemble of the best fully trained samples within `bounds`, evaluated once (a unit
  /// keyed by `config` and its members), printed and added to `summary`.
  void evaluate_ensemble(StageContext& ctx, const MonteCarloSearch& search,
                         const std::vector<std::string>& training_keys, const Constraints& bounds,
                         const UnitKey& config, nlohmann::json& summary) const;

  std::string space_, laws_, bounds_from_;
  std::vector<std::string> bound_metrics_;
  double fraction_;
  std::int64_t traction_iterations_, ensemble_;
  Vote vote_;
  bool keep_weights_;
  SearchSettings settings_;
  TrainingConfig config_;
};

}  // namespace narrow::strategies
