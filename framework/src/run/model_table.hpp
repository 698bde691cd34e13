#pragma once
// The model table of a results store: one row per (trained model, number format), with the
// model's metrics, the format's deployable weight bytes, its latency and its accuracies. What
// `narrow query` searches and the fronts are drawn from (docs/cli.md, "narrow query").
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "narrow/architecture.hpp"
#include "narrow/export.hpp"
#include "narrow/metrics.hpp"

namespace narrow {

class Registry;
class Store;

/// Where a row's latency comes from.
enum class LatencySource { none, measured, predicted };
NARROW_API std::string_view latency_source_name(LatencySource s);

/// One trained model in one number format.
struct NARROW_API ModelRow {
  std::string training_key;
  std::string architecture_hash;
  std::string stage;     // the stage that trained it; empty when the store does not say
  std::string space;     // the space(s) that drew the architecture, comma-separated, or the
                         // space of a shrunk reference; may be empty
  std::string format;    // "float32" for the model as trained, else the format's name
  std::string rounding;  // the precision stage's rounding; empty for float32
  int bits = 32;
  /// What a device stores: the format's weight bytes as the precision analysis counted them
  /// (batch norms folded, the format's own accounting of scales); for float32, 4 bytes per
  /// parameter of the folded network.
  std::int64_t weight_bytes = 0;
  Metrics metrics;  // the architecture's (as trained: float32, batch norms not folded)
  std::optional<double> latency;  // seconds per inference, batch size 1
  LatencySource latency_source = LatencySource::none;
  std::optional<double> val_accuracy;   // selection
  std::optional<double> test_accuracy;  // reporting
};

/// Every row of a store, with what was used to make them.
struct NARROW_API ModelTable {
  std::vector<ModelRow> rows;  // by architecture hash, training key, bits descending, format
  /// The device of the stored experiment (its name), empty without one; whether it predicts.
  std::string device;
  bool device_predicts = false;
  /// Why the device could not be rebuilt (a plugin not loaded...); empty when it was, or
  /// when the experiment has none.
  std::string device_problem;
  /// The rows' architectures by hash, finalized.
  std::map<std::string, Architecture> architectures;

  const Architecture& architecture(const std::string& hash) const;  // Error when absent
};

/// A record of kind `train.reference` (the `train` strategy's `select: references`: one
/// reference model shrunk to one budget and trained), as stored.
struct NARROW_API StoredReference {
  std::string unit;  // the unit that wrote it: a run's uses say whether it is the run's
  std::string space, reference, training, hash, metric;  // empty when the record lacks one
  std::optional<double> budget;  // in the metric's unit; empty when the record has no number
};

/// Every `train.reference` record of the store: the one reader of them (report, comparison,
/// model table). Records that are not JSON objects are left out.
NARROW_API std::vector<StoredReference> stored_references(const Store& store);

/// The plugin paths of the store's experiment (`plugins:`) that still exist: what a command
/// loads, besides its --plugins, to rebuild the run's device as the run had it.
NARROW_API std::vector<std::string> stored_plugin_paths(const Store& store);

/// Loads the table of `store`. Every successful training is a float32 row (its validation and
/// test accuracies as trained); every format a precision stage evaluated it in is one more row
/// (accuracy on the split the stage evaluated; a format evaluated on both splits by two stages
/// has both). Latency: the stored measurement of the architecture (`measured`), else the
/// prediction of the experiment's device, rebuilt through `registry` from the stored
/// experiment (`predicted`), else none; `registry` null: measured latencies only.
/// `units`, when given, keeps the trainings and the evaluations of those unit keys only: one
/// run of a store that holds several (run_unit_keys). A training two runs share shows, in
/// each, the formats that run's precision stage evaluated.
NARROW_API ModelTable load_model_table(const Store& store, const Registry* registry,
                                       const std::set<std::string>* units = nullptr);

}  // namespace narrow
