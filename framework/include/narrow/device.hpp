#pragma once
// Devices: plugins of kind `device` that know a target's memory capacities and either measure
// the inference latency of an architecture (on this machine, through LibTorch) or predict it
// (an analytical roofline, or a latency model calibrated on measurements), with the options
// and results of a measurement and the facts of this host. The latency predictor itself is in
// narrow/latency_model.hpp. No LibTorch here.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/component.hpp"
#include "narrow/errors.hpp"
#include "narrow/export.hpp"
#include "narrow/metrics.hpp"
#include "narrow/parameters.hpp"

namespace narrow {

/// How one latency measurement runs (Scheidegger et al. 3.3: batch size 1, mean of ten runs).
struct NARROW_API LatencyOptions {
  int runs = 10;   // timed runs whose mean is the latency
  int warmup = 3;  // untimed runs first (caches, allocator, lazy initialisation)
  int threads = 1;
  /// A measurement whose coefficient of variation (stddev / mean of the runs) is above this is
  /// repeated, at most `max_repeats` times; the repetition with the lowest variation is kept.
  double max_cv = 0.05;
  int max_repeats = 3;
  /// A timed run lasts at least this long: a model faster than that runs several times back to
  /// back inside one run and the run's time is divided by the count (timer noise of tiny models).
  double min_run_seconds = 0.001;
  /// What a run's time is: "wall" (the latency itself) or "thread_cpu" (the CPU time of the
  /// measuring thread; one thread only). On a machine shared with other work, thread_cpu leaves
  /// out the time the measurement waited for a core, and so estimates the latency on an idle
  /// device; cache and memory-bandwidth interference remain.
  std::string clock = "wall";
  /// Also time every layer inside the network (wall clock, as many inferences as the timed
  /// runs): LatencyMeasurement::layer_seconds, what a layered calibration fits.
  bool layers = false;

  nlohmann::json to_json() const;
  static LatencyOptions from_json(const nlohmann::json& j);
};

/// The latency of one architecture on one device, in seconds per inference (batch size 1).
struct NARROW_API LatencyMeasurement {
  double mean = 0, median = 0, stddev = 0;
  double cv = 0;              // stddev / mean of the kept repetition
  int runs = 0;               // timed runs of the kept repetition
  int inferences_per_run = 1; // inferences inside one timed run (see min_run_seconds)
  int repeats = 0;            // repetitions done because the variation was above max_cv
  bool noisy = false;         // the kept repetition is still above max_cv
  int threads = 1;
  std::string clock = "wall"; // LatencyOptions::clock
  std::string cpu;            // CPU model, as /proc/cpuinfo names it
  std::vector<double> times;  // seconds per inference of each timed run of the kept repetition
  /// With LatencyOptions::layers: the mean wall-clock seconds per inference of every layer of
  /// the batch-norm-folded architecture (fold_batchnorm, narrow/architecture.hpp), in its
  /// layer order; else empty.
  std::vector<double> layer_seconds;

  nlohmann::json to_json() const;
  static LatencyMeasurement from_json(const nlohmann::json& j);
};

/// A target device. Measuring devices run models; predicting devices estimate their latency
/// without running them. Implementations are safe to call from one thread at a time.
class NARROW_API Device : public Component {
 public:
  ~Device() override;
  /// The registered name of the device plugin ("host", "analytic", "calibrated").
  virtual std::string name() const = 0;
  /// Who the device is: at least {"name", "parameters"}; a device adds what identifies the
  /// hardware (CPU model, preset, frequencies). Calibration files keep it.
  virtual nlohmann::json description() const = 0;
  /// Memory capacities in bytes; 0 means unknown.
  virtual std::int64_t ram_bytes() const = 0;
  virtual std::int64_t flash_bytes() const = 0;

  /// Whether measure() runs models on the device.
  virtual bool measures() const;
  /// The measurement options the device was configured with.
  virtual LatencyOptions latency_options() const;
  /// Measures the latency of a finalized architecture. The default throws Error: the device
  /// does not measure.
  virtual LatencyMeasurement measure(const Architecture& arch, const LatencyOptions& options);

  /// Whether predict() gives values.
  virtual bool predicts() const;
  /// Predicted seconds per inference (batch size 1) of a finalized architecture whose metrics
  /// are `metrics`; nothing when the device does not predict.
  virtual std::optional<double> predict(const Architecture& arch, const Metrics& metrics) const;
};

class Registry;

/// Builds a device by name through the registry (InputError for unknown names and bad
/// parameters, as Registry::create); Error when the plugin's object is not a Device.
NARROW_API std::unique_ptr<Device> create_device(const Registry& registry, const std::string& name,
                                                 const std::map<std::string, std::string>& params,
                                                 const SourceLocation& where = {});

/// Parameters as the registry resolved them, as text ({"runs": "10", ...}): what recreates
/// the object through Registry::create.
NARROW_API std::map<std::string, std::string> parameter_texts(const Parameters& p);

/// The CPU model of this machine ("model name" of /proc/cpuinfo; "unknown" without one) and
/// its physical memory in bytes (0 when unknown).
NARROW_API std::string host_cpu_model();
NARROW_API std::int64_t host_memory_bytes();

/// Measures the inference latency of a finalized architecture on this CPU with LibTorch, as
/// the `host` device does: batch size 1, batch norm folded, random weights (see
/// LatencyOptions). The LibTorch engine loads on first call; Error when it cannot.
NARROW_API LatencyMeasurement measure_on_this_cpu(const Architecture& arch,
                                                  const LatencyOptions& options);

}  // namespace narrow
