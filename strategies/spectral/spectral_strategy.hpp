#pragma once
#include <cstdint>
#include <string>

#include "narrow/parameters.hpp"
#include "narrow/strategy.hpp"

namespace narrow::strategies {

/// Scheidegger et al. §4: the final population of a law search holds different laws of
/// similar quality; spectral clustering groups it into `k` clusters of similar laws and the
/// best law of each cluster is kept, k laws per window. For every population a `genetic_law`
/// stage stored (one per space and window), one unit of work clusters it and stores its laws
/// as learned laws (narrow/laws.hpp) named SPACE.WINDOW.cN, c0 the best; the stage then writes
/// the laws of each space as a law file STAGE-laws-SPACE.yaml in the run folder.
class SpectralStrategy final : public Strategy {
 public:
  explicit SpectralStrategy(const Parameters& p);
  static ParamSchema schema();
  void check(const StagePlan& plan) const override;
  void run(StageContext& context) override;

 private:
  std::string search_stage(const StagePlan& plan) const;
  std::string search_;
  std::int64_t k_, restarts_;
  double bandwidth_;
};

}  // namespace narrow::strategies
