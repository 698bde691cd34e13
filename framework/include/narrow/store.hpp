#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "narrow/device.hpp"
#include "narrow/export.hpp"
#include "narrow/metrics.hpp"
#include "narrow/record.hpp"
#include "narrow/sampler.hpp"
#include "narrow/training.hpp"

namespace narrow {

/// One architecture drawn by a stage from one law of one space.
struct NARROW_API DrawRecord {
  std::string stage;      // stage name
  std::string space;      // space name in the experiment
  std::string law;        // law name
  std::int64_t draw = 0;  // index of the draw in that law's stream
  DrawStatus status = DrawStatus::accepted;
  std::string hash;        // architecture hash; empty when invalid
  std::string reason;      // why it was rejected or invalid; empty when accepted
  std::string assignment;  // the assignment: JSON array of every variable's value by position
};

/// A plugin used by a run.
struct NARROW_API PluginRecord {
  std::string kind, name, plugin, version, library;
};

/// One trained model evaluated in one number format by a precision stage (a unit of work).
struct NARROW_API PrecisionRecord {
  std::string key;                // the unit's key
  std::string stage;
  std::string training_key;       // the training whose weights were evaluated
  std::string architecture_hash;
  std::string format_key;         // plugin, version, resolved parameters; "float32" for the
                                  // reference evaluation
  std::string split;              // "test" or "validation"
  std::string rounding;           // rounding mode name
  PrecisionResult result;         // format name, bits, weight bytes, accuracy, loss, seconds
};

/// One architecture's latency as a stage measured it on the experiment's device (a unit of
/// work).
struct NARROW_API LatencyRecord {
  std::string key;                // the unit's key
  std::string stage;
  std::string architecture_hash;  // a stored architecture
  std::string device;             // the measuring device's description (JSON)
  LatencyMeasurement measurement;
};

/// A stored architecture: its content hash, its JSON (the store's and the wire's form; parse
/// it once with Architecture::from_json_string when a strategy needs the graph) and its metrics.
struct NARROW_API ArchitectureRecord {
  std::string hash;
  std::string json;
  Metrics metrics;
};

/// The results store of one run: one SQLite file (see docs/results-store.md for the schema).
/// Every unit of work is keyed by a content hash of what determines it; a unit and all its
/// rows are written in one transaction, so a killed run never leaves a half-written unit that
/// resume trusts. All methods throw narrow::Error on database failures (with SQLite's message).
class NARROW_API Store {
 public:
  /// Opens (creating it and its schema when new) the store at `path`. A file that is not a
  /// narrow store, or of a newer schema version, is an InputError.
  static std::unique_ptr<Store> open(const std::string& path);
  virtual ~Store();

  /// Key/value facts of the run: "experiment" (resolved YAML), "experiment_name", "seed",
  /// "narrow_version", "started_at", "finished_at", "status".
  virtual void set_meta(const std::string& key, const std::string& value) = 0;
  virtual std::optional<std::string> meta(const std::string& key) const = 0;

  /// Starts a session (a run or a resume) and returns its id; end_session records its end.
  virtual std::int64_t begin_session(bool resumed) = 0;
  virtual void end_session(std::int64_t id, const std::string& status) = 0;

  /// Replaces the list of plugins the run uses.
  virtual void set_plugins(const std::vector<PluginRecord>& plugins) = 0;
  virtual std::vector<PluginRecord> plugins() const = 0;

  /// Units of work. `unit_result` is the stored JSON result of a finished unit, if any.
  virtual std::optional<std::string> unit_result(const std::string& key) const = 0;

  /// Writes a finished unit with its architectures and draws, all in one transaction: either
  /// everything is stored or nothing. Architectures already stored (same hash) are kept.
  virtual void commit_unit(const std::string& key, const std::string& kind,
                           const std::string& stage, const std::string& result_json,
                           const std::vector<ArchitectureRecord>& architectures,
                           const std::vector<DrawRecord>& draws) = 0;

  /// Queries used by strategies, reports and tests.
  virtual std::vector<DrawRecord> draws(const std::string& stage = "") const = 0;
  virtual std::int64_t count_architectures() const = 0;
  virtual std::optional<std::string> architecture_json(const std::string& hash) const = 0;
  /// Architectures that draws of `stage` (of every stage when empty) accepted, by hash.
  virtual std::vector<ArchitectureRecord> accepted_architectures(const std::string& stage = "") const = 0;

  /// Writes a finished training as a unit of kind "training" keyed by `job.key`, with its
  /// result, history and weights, in one transaction. The architecture is stored too when the
  /// store does not hold it yet (`metrics` are its metrics).
  virtual void commit_training(const std::string& stage, const TrainJob& job,
                               const TrainResult& result, const Metrics& metrics) = 0;
  /// Stored trainings without their weights, by key; of one stage when `stage` is given.
  virtual std::vector<TrainResult> trainings(const std::string& stage = "") const = 0;
  /// The stored weights of a training (LibTorch's serialisation), if any.
  virtual std::optional<std::string> training_weights(const std::string& key) const = 0;
  /// The dataset a stored training used (name, parameters, split seed); Error if none.
  virtual DatasetSpec training_dataset(const std::string& key) const = 0;

  /// Writes one precision evaluation as a unit of kind "precision" keyed by `record.key`.
  virtual void commit_precision(const PrecisionRecord& record) = 0;
  /// Stored precision evaluations, of one stage when `stage` is given, ordered by
  /// architecture, then bits, then format.
  virtual std::vector<PrecisionRecord> precisions(const std::string& stage = "") const = 0;

  /// Writes one latency measurement as a unit of kind "latency" keyed by `record.key`; its
  /// architecture must be stored.
  virtual void commit_latency(const LatencyRecord& record) = 0;
  /// Stored latency measurements, of one stage when `stage` is given, by architecture hash.
  virtual std::vector<LatencyRecord> latencies(const std::string& stage = "") const = 0;

  /// Writes a finished unit of kind `unit_kind` with records of the strategy's own kinds, in
  /// one transaction; each record's `stage` and `unit` are those of the unit. A record whose
  /// data is not JSON, or with an empty kind, is an Error and nothing is stored.
  virtual void commit_records(const std::string& key, const std::string& unit_kind,
                              const std::string& stage, const std::string& result_json,
                              const std::vector<Record>& records) = 0;
  /// Stored records of `kind`, of one stage when `stage` is given, in the order written.
  virtual std::vector<Record> records(const std::string& kind,
                                      const std::string& stage = "") const = 0;
};

}  // namespace narrow
