#pragma once
// One run of an experiment file: the stages of the experiment as written, or of one ablation
// variant, at one seed, against the run's store (runner.cpp opens it and plans the runs).
#include <cstdint>
#include <functional>
#include <string>

#include "run/runner.hpp"

namespace narrow {

class Registry;
class Store;
class TrainingService;

struct RunPlan {
  std::string id;       // run_id(variant, seed, experiment seed)
  std::string variant;  // "base" or the variant's name
  std::uint64_t seed = 0;
  const Experiment* experiment = nullptr;  // the file's experiment or the variant's
};

/// Runs the stages of `run` in order. Each stage works in the store's scope (run, stage), so
/// its rows are the run's and units other runs did are reused (run/runs.hpp); files a stage
/// writes go to `out` for the experiment as written at its seed, else to out/RUN-ID. The run's
/// row in `runs` is started and ended here; an error ends it as failed and propagates.
RunPart run_stages(const RunPlan& run, Store& store, Registry& registry, const std::string& out,
                   const RunOptions& options,
                   const std::function<TrainingService&()>& training);

}  // namespace narrow
