#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "run/experiment.hpp"
#include "narrow/export.hpp"

namespace narrow {

class Registry;

struct NARROW_API RunOptions {
  std::string out;      // run folder; empty: runs/<name>-<UTC timestamp>
  bool resume = false;  // continue the run stored in `out`
  int threads = 1;       // threads of sampling and analytics
  int jobs = 0;          // trainings at once (0: fill the cores with torch_threads each)
  int torch_threads = 0;  // LibTorch threads per training (0: cores / jobs)
};

struct NARROW_API StageReport {
  std::string name, strategy;
  std::string summary;  // JSON from the strategy ("{}" when it gave none)
  double seconds = 0;
};

struct NARROW_API RunReport {
  std::string out, store;
  std::vector<StageReport> stages;
};

/// The seed of the dataset's split (DatasetSpec::seed) for a run or a command with this seed:
/// a model trained by a run and one trained or evaluated by a command with the same seed see
/// the same validation set.
NARROW_API std::uint64_t dataset_split_seed(std::uint64_t seed);

/// Runs the stages of a validated experiment in order against the store `out/results.db`.
/// A new run refuses a folder that already holds one; a resume refuses a store whose resolved
/// experiment differs. Errors of a stage end the session as failed and propagate.
NARROW_API RunReport run_experiment(const Experiment& experiment, Registry& registry,
                                    const RunOptions& options);

}  // namespace narrow
