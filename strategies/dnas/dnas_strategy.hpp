#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "narrow/parameters.hpp"
#include "narrow/strategy.hpp"
#include "narrow/training.hpp"
#include "targets.hpp"

namespace narrow::strategies {

/// A differentiable channel search under cost targets in one training (Burrello et al. 2023,
/// with PIT-style channel masks). The seed (a reference of a space, or an architecture file)
/// trains for `warmup_epochs`; then masks and weights train together for `epochs` under the
/// penalties of the targets; the channels whose masks fell below the threshold are removed
/// (the export) and the exported model is fine-tuned for `finetune_epochs`. Each phase is a
/// training in the store (the search's under the exported architecture, with its costs and
/// mask history in its details); the stage ends with a record of kind `dnas.result`. With
/// `baseline`, the seed also trains from scratch for as many epochs as the three phases: the
/// accuracy and the time the search is compared with, in the same run.
class DnasStrategy final : public Strategy {
 public:
  explicit DnasStrategy(const Parameters& p);
  static ParamSchema schema();
  void run(StageContext& context) override;
  void check(const StagePlan& plan) const override;

 private:
  /// The seed architecture, finalized (from `seed` of the space, or `seed_file`).
  Architecture seed_architecture(const std::vector<const SearchSpace*>& spaces,
                                 const std::vector<std::string>& names) const;

  std::string space_, seed_, seed_file_, format_;
  std::vector<TargetSpec> targets_;
  double lambda_, threshold_, mask_learning_rate_, ramp_;
  std::int64_t warmup_epochs_, finetune_epochs_;
  double finetune_learning_rate_;
  bool baseline_, keep_weights_;
  TrainingConfig config_;
};

}  // namespace narrow::strategies
