#pragma once
#include "narrow/parameters.hpp"
#include "narrow/strategy.hpp"

namespace narrow::strategies {

/// Constrained random sampling, Chan et al. Algorithm I: for every law of every space, draw
/// architectures, reject the invalid ones and those that break a constraint, until `per_law`
/// are accepted, or stop that law after `max_rejections` rejected or invalid draws in a row.
/// Draws are stored in batches of `batch`, each batch one unit of work keyed by its content,
/// so a resumed run redoes at most one batch per law.
class RandomStrategy final : public Strategy {
 public:
  explicit RandomStrategy(const Parameters& p);
  static ParamSchema schema();
  void run(StageContext& context) override;
  void check(const StagePlan& plan) const override;

 private:
  std::int64_t per_law_, max_rejections_, batch_;
  std::string laws_;
};

}  // namespace narrow::strategies
