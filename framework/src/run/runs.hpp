#pragma once
// The runs one store holds: an experiment file runs its base experiment and each ablation
// variant at each seed, all into one results store (docs/experiments.md#ablation-and-seeds).
// Units are keyed by content, so a unit two runs need is done once and used by both; the
// `uses` table says which units each run's stages used (docs/results-store.md).
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "narrow/export.hpp"

namespace narrow {

class Store;

/// One run stored in a store.
struct NARROW_API StoredRun {
  std::string id;       // "" for the base experiment at its own seed, else "VARIANT@SEED"
  std::string variant;  // "base" or the ablation variant's name
  std::uint64_t seed = 0;
  std::string experiment;  // the run's resolved experiment (YAML)
  std::string status;      // "running", "finished" or "failed" as of the last session
  double seconds = 0;      // wall time of its stages over every session
  std::string stages;      // JSON object: stage name -> {strategy, seconds, summary}
  std::int64_t trainings = 0;  // distinct trainings its stages used (done or reused)
};

/// The id of the run of `variant` ("base" for the experiment as written) at `seed`, where
/// `base_seed` is the experiment's own seed: "" for the base at its own seed, else
/// "VARIANT@SEED".
NARROW_API std::string run_id(const std::string& variant, std::uint64_t seed,
                              std::uint64_t base_seed);

/// The runs of a store, in the order they started; a store made before runs existed (schema
/// version 5 or older) holds its one base run.
NARROW_API std::vector<StoredRun> stored_runs(const Store& store);

/// Every unit (training keys included) the stages of run `id` used.
NARROW_API std::set<std::string> run_unit_keys(const Store& store, const std::string& id);

/// The stage name (as the experiment names it, without its run) that first used each unit:
/// the stage that did it, or the first to reuse a unit older than runs.
NARROW_API std::map<std::string, std::string> unit_stages(const Store& store);

/// Throws InputError "OPTION: 'ID' is not a run of DB (runs: '', uniform@1, ...)" unless `id`
/// is the id of one of `runs`: the check of the commands that read one run of a store.
NARROW_API void require_run(const std::vector<StoredRun>& runs, const std::string& id,
                            const std::string& db, const std::string& option = "--only");

/// The run and stage the store works for from now on (SqliteStore::set_scope).
NARROW_API void set_store_scope(Store& store, const std::string& run, const std::string& stage);
NARROW_API void begin_stored_run(Store& store, const std::string& id, const std::string& variant,
                                 std::uint64_t seed, const std::string& experiment);
NARROW_API void end_stored_run(Store& store, const std::string& id, const std::string& status,
                               double seconds, const std::string& stages_json);

}  // namespace narrow
