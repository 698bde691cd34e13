#pragma once
#include <cstdint>
#include <string>
#include <string_view>
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

/// One run of an experiment file: the experiment as written or an ablation variant, at one
/// seed (run/runs.hpp).
struct NARROW_API RunPart {
  std::string id, variant;
  std::uint64_t seed = 0;
  std::vector<StageReport> stages;
  double seconds = 0;
};

struct NARROW_API RunReport {
  std::string out, store;
  std::vector<StageReport> stages;  // of the experiment as written at its seed
  std::vector<RunPart> runs;        // every run, in the order they ran
};

/// The seed of the dataset's split (DatasetSpec::seed) for a run or a command with this seed:
/// a model trained by a run and one trained or evaluated by a command with the same seed see
/// the same validation set.
NARROW_API std::uint64_t dataset_split_seed(std::uint64_t seed);

/// Test-only: with NARROW_TEST_KILL_AT=POINT in the environment, the process kills itself with
/// SIGKILL (no destructor runs, nothing is cleaned up: a crash or kill -9) on reaching POINT,
/// so that tests can check what a crash there leaves. Points: "store-created" (a new store's
/// file exists, its experiment not yet recorded; tests/integration/store_lock_test.cpp),
/// "run-finished:ID" (run ID of an ablation or seed list has ended; ablation_test.cpp).
void test_kill_point(std::string_view point);

/// Runs the stages of a validated experiment in order against the store `out/results.db`.
/// A new run refuses a folder that already holds one; a resume refuses a store whose resolved
/// experiment differs. Errors of a stage end the session as failed and propagate.
NARROW_API RunReport run_experiment(const Experiment& experiment, Registry& registry,
                                    const RunOptions& options);

}  // namespace narrow
