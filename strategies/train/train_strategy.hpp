#pragma once
#include <map>
#include <string>
#include <vector>

#include "narrow/architecture.hpp"
#include "narrow/parameters.hpp"
#include "narrow/store.hpp"
#include "narrow/strategy.hpp"
#include "narrow/training.hpp"
#include "reference_selection.hpp"

namespace narrow::strategies {

/// Trains a selection of the architectures that earlier stages accepted (Scheidegger et al.
/// section 4: only candidates of interest train). `select`:
/// - `all`: every accepted architecture;
/// - `best`: the `count` with the largest (or smallest, `order`) value of `metric`;
/// - `grid`: `count` constraint values spaced logarithmically between the smallest and the
///   largest `metric` of the candidates; for each, the architecture with the largest metric
///   within it (the model that best uses that budget);
/// - `references`: no stored candidates, but the reference models of the spaces, each shrunk
///   to each of `budgets` by scaling every width with one factor (reference_selection.hpp);
///   each also gets a record of kind `train.reference` that names its training.
/// With a `latency` bound and a device that measures (`measure_latency: auto`), every selected
/// architecture is measured on the device before any training; one whose measured latency is
/// over the bound is not trained and the selection is made again without it. Each training and
/// each measurement is a unit of work keyed by what determines it.
/// The graphs of stored architectures, each parsed from its JSON once and kept by hash.
class ParsedArchitectures {
 public:
  const Architecture& of(const ArchitectureRecord& record);

 private:
  std::map<std::string, Architecture> by_hash_;
};

class TrainStrategy final : public Strategy {
 public:
  explicit TrainStrategy(const Parameters& p);
  static ParamSchema schema();
  void run(StageContext& context) override;
  void check(const StagePlan& plan) const override;


 private:
  /// The selection, with measured latencies when a latency bound exists and the device
  /// measures: selects, measures what is not measured yet, drops what is over the bound, and
  /// selects again until every selected architecture is within it.
  std::vector<ArchitectureRecord> select_within_latency(StageContext& ctx,
                                                         std::vector<ArchitectureRecord> pool,
                                                         ParsedArchitectures& graphs,
                                                         nlohmann::json& summary);

  /// Trains `picked` (distinct hashes) unless stored before, and returns the training key of
  /// each by architecture hash.
  std::map<std::string, std::string> train(StageContext& ctx,
                                           const std::vector<ArchitectureRecord>& picked);
  /// Stores the `train.reference` record of each shrunk reference (a unit each), adds them
  /// with their accuracies to the summary and prints one line each.
  void report_references(StageContext& ctx, const std::vector<ShrunkReference>& refs,
                         const std::map<std::string, std::string>& training_keys,
                         nlohmann::json& summary);

  std::string select_, metric_, order_, rank_, from_, measure_latency_;
  ReferenceRequest request_;  // select: references
  std::int64_t count_, per_budget_;
  std::vector<Budget> grid_budgets_;  // select: grid with budgets
  std::vector<double> budget_values() const;
  std::string select_text() const;
  bool keep_weights_;
  TrainingConfig config_;
};

}  // namespace narrow::strategies
