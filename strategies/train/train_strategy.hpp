#pragma once
#include <string>
#include <vector>

#include "narrow/parameters.hpp"
#include "narrow/store.hpp"
#include "narrow/strategy.hpp"
#include "narrow/training.hpp"

namespace narrow::strategies {

/// Trains a selection of the architectures that earlier stages accepted (Scheidegger et al.
/// section 4: only candidates of interest train). `select`:
/// - `all`: every accepted architecture;
/// - `best`: the `count` with the largest (or smallest, `order`) value of `metric`;
/// - `grid`: `count` constraint values spaced logarithmically between the smallest and the
///   largest `metric` of the candidates; for each, the architecture with the largest metric
///   within it (the model that best uses that budget).
/// Each training is a unit of work keyed by architecture, dataset, configuration and seed.
class TrainStrategy final : public Strategy {
 public:
  explicit TrainStrategy(const Parameters& p);
  static ParamSchema schema();
  void run(StageContext& context) override;

  /// The selection rule alone. Ties are broken by hash, so the choice is reproducible.
  static std::vector<Store::Architecture> select(std::vector<Store::Architecture> candidates,
                                                 const std::string& rule, std::int64_t count,
                                                 const std::string& metric,
                                                 const std::string& order);

 private:
  std::string select_, metric_, order_, from_;
  std::int64_t count_;
  bool keep_weights_;
  TrainingConfig config_;
};

}  // namespace narrow::strategies
