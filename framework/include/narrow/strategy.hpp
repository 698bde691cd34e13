#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "narrow/component.hpp"
#include "narrow/dataset.hpp"
#include "narrow/errors.hpp"
#include "narrow/export.hpp"
#include "narrow/metrics.hpp"
#include "narrow/space.hpp"

namespace narrow {

class Store;
class Registry;
class TrainingService;

class Device;

/// An upper bound on a metric, from the experiment's `constraints`.
struct NARROW_API Constraint {
  std::string metric;  // a name of metric_names, or "latency" (seconds, of the device)
  double max = 0;      // inclusive upper bound, in the metric's base unit
  std::string text;    // as written, e.g. "64KiB"; "device flash" for bounds of `fits: device`
  SourceLocation where;
  bool from_device = false;  // set by `fits: device` from the device's capacities
};

/// The constraints of an experiment.
struct NARROW_API Constraints {
  std::vector<Constraint> bounds;
  /// The device that predicts `latency` (set when a latency bound exists); it outlives the
  /// run. Its predict() is called from several threads at once.
  const Device* device = nullptr;
  /// The first bound the metrics violate, or nullptr when all hold. A latency bound needs the
  /// architecture: with `arch` null, latency bounds are not checked. `latency`, when given,
  /// receives the predicted seconds (0 without a latency bound).
  const Constraint* violated(const Metrics& m, const Architecture* arch = nullptr,
                             double* latency = nullptr) const;
  /// "weight_bytes 70144 > 64KiB", "latency 12.1ms > 10ms (predicted)" for a violated bound;
  /// "(measured)" when `latency` is a measured value.
  static std::string describe(const Constraint& c, const Metrics& m, double latency = 0,
                              bool measured = false);
  /// The latency bound, or nullptr when there is none.
  const Constraint* latency_bound() const;
  /// A text of every bound (and of the device predicting latency), for content keys.
  std::string key() const;
};

/// A space of the experiment with its laws.
struct NARROW_API SpaceEntry {
  std::string name;    // the space's name in the experiment
  std::string plugin;  // the plugin that builds it
  const SearchSpace* space = nullptr;
  std::vector<SamplingLaw> laws;  // at least one
  std::string key;  // content key of the space: plugin, its version and resolved parameters
};

class NumberFormat;

/// A number format of the experiment's `formats:` (lists and ranges expanded), built once.
struct NARROW_API FormatEntry {
  std::string name;  // as the format prints itself, e.g. "ieee(4,3)", "half"
  std::string key;   // content key: plugin, its version and resolved parameters
  const NumberFormat* format = nullptr;
};

/// What a strategy sees of the run: the spaces with their laws, the constraints, the store, a
/// seed for the stage, threads, and progress reporting.
class NARROW_API StageContext {
 public:
  virtual ~StageContext();
  virtual const std::string& stage() const = 0;  // the stage's name
  virtual std::uint64_t seed() const = 0;        // derived from the experiment seed and stage
  virtual int threads() const = 0;
  virtual const std::vector<SpaceEntry>& spaces() const = 0;
  virtual const Constraints& constraints() const = 0;
  virtual Store& store() = 0;
  /// The run folder, where a stage may write files (CSV tables, plots) next to the store.
  virtual const std::string& output_dir() const = 0;
  /// The plugin registry of the run (for keys of datasets, and for objects built by name).
  virtual const Registry& registry() const = 0;
  /// The experiment's dataset with the split seed: Fashion-MNIST through `idx` when the
  /// experiment names none.
  virtual const DatasetSpec& dataset() const = 0;
  /// The number formats of the experiment's `formats:`, in the order written (empty when it
  /// has none).
  virtual const std::vector<FormatEntry>& formats() const = 0;
  /// The service that trains models (the local scheduler, or a distributed one). Created on
  /// first use, which loads LibTorch; throws Error when narrow cannot load it.
  virtual TrainingService& training() = 0;
  /// A line of information for the user (stderr).
  virtual void info(const std::string& line) = 0;
  /// The stage's result for `run --json` and the summary (replaces any earlier one).
  virtual void set_summary(const std::string& json) = 0;
  /// The experiment's `device`, or nullptr without one. A stage that measures on it does so
  /// from one thread, while no other work of the stage runs.
  virtual Device* device() = 0;
};

/// One stage of an experiment. Strategies keep every unit of work in the store keyed by what
/// determines it, and skip units already stored (this is what makes --resume work).
class NARROW_API Strategy : public Component {
 public:
  ~Strategy() override;
  virtual void run(StageContext& context) = 0;
};

}  // namespace narrow
