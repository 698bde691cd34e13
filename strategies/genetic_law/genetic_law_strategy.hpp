#pragma once
#include <string>
#include <vector>

#include "law_search.hpp"
#include "narrow/parameters.hpp"
#include "narrow/strategy.hpp"

namespace narrow::strategies {

/// The genetic search of sampling laws (Scheidegger et al. 2019, §4): for every space and every
/// window (tau1, tau2) of a grid {1, 2, 5} x 10^k over `decades`, a steady-state genetic
/// algorithm learns one uniform range per variable so that log10 of `metric` over the
/// architectures a law draws has mean - sigma near tau1 and mean + sigma near tau2. Each search
/// is one unit of work; searches run in parallel, and each stores its final population and its
/// best law (a learned law that later stages draw from).
class GeneticLawStrategy final : public Strategy {
 public:
  explicit GeneticLawStrategy(const Parameters& p);
  static ParamSchema schema();
  void check(const StagePlan& plan) const override;
  void run(StageContext& context) override;

 private:
  std::string metric_;
  std::vector<std::int64_t> decades_;
  genetic_law::Settings settings_;
  double margin_ = 0;
  std::vector<std::string> spaces_;
};

}  // namespace narrow::strategies
