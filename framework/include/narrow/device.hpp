#pragma once
// Devices: plugins of kind `device` that know a target's memory capacities and either measure
// the inference latency of an architecture (on this machine, through LibTorch) or predict it
// (an analytical roofline, or a latency model calibrated on measurements). Also the latency
// predictor itself: features computed from the graph, a non-negative least-squares fit that
// minimises relative error, its error statistics and the calibration file. No LibTorch here.
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
  /// the batch-norm-folded architecture (fold_batchnorm), in its layer order; else empty.
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

/// Which batch norms inference folds: for every layer of `arch` (finalized), the index of
/// the convolution a batch norm folds into, or -1. A batch norm folds when its only input is
/// a conv2d that nothing else reads and that is not the output.
NARROW_API std::vector<int> batchnorm_folds(const Architecture& arch);

/// The network as inference runs it: every batch norm whose only input is a conv2d read by
/// nothing else is folded into that convolution (the convolution gains a bias, the batch norm
/// disappears and its readers read the convolution). Returns a finalized architecture.
NARROW_API Architecture fold_batchnorm(const Architecture& arch);

/// The CPU model of this machine ("model name" of /proc/cpuinfo; "unknown" without one) and
/// its physical memory in bytes (0 when unknown).
NARROW_API std::string host_cpu_model();
NARROW_API std::int64_t host_memory_bytes();

/// Measures the inference latency of a finalized architecture on this CPU with LibTorch, as
/// the `host` device does: batch size 1, batch norm folded, random weights (see
/// LatencyOptions). The LibTorch engine loads on first call; Error when it cannot.
NARROW_API LatencyMeasurement measure_on_this_cpu(const Architecture& arch,
                                                  const LatencyOptions& options);

// ------------------------------------------------------------------ latency predictor

/// The features of one layer for the latency model: its kind (how the CPU backend runs it,
/// one of layer_kinds()) and the values of that kind's features.
struct NARROW_API LayerFeatures {
  std::string kind;
  std::vector<double> values;
};

/// The layer kinds, each with the names of its features (docs/devices.md, "Layer kinds").
NARROW_API const std::vector<std::pair<std::string, std::vector<std::string>>>& layer_kinds();
/// The kind and features of every layer of a finalized architecture as it is (fold it first
/// to describe inference), in the architecture's layer order.
NARROW_API std::vector<LayerFeatures> layer_latency_features(const Architecture& arch);

/// The features a latency model may use, each a sum over the layers of the batch-norm-folded
/// network (see docs/devices.md): the whole-network features "constant", "ops", "macs",
/// "params", "layers", "activation_peak_bytes", "conv_macs", "conv_gemm_macs",
/// "im2col_bytes", "pointwise_macs", "grouped_macs", "linear_macs", "conv_layers",
/// "conv_io_bytes", "weight_bytes", "elementwise_bytes", "direct_conv_layers",
/// "grouped_io_bytes", then "KIND.FEATURE" for every feature of every layer kind.
NARROW_API const std::vector<std::string>& latency_feature_names();
/// The features of a whole-network fit (LatencyModel::fit) unless told otherwise.
NARROW_API const std::vector<std::string>& default_latency_features();
/// The features of a layered fit (LatencyModel::fit_layers): "constant" and every
/// "KIND.FEATURE".
NARROW_API const std::vector<std::string>& layered_latency_features();
/// Throws InputError for a name that is not one of latency_feature_names().
NARROW_API void check_latency_features(const std::vector<std::string>& names);
/// Values of `names` for a finalized architecture (folded first).
NARROW_API std::vector<double> latency_features(const Architecture& arch,
                                                const std::vector<std::string>& names);

/// The median of `values` (the mean of the two middle ones for an even count); 0 when empty.
NARROW_API double median_of(std::vector<double> values);

/// How well predictions match measurements.
struct NARROW_API FitStatistics {
  std::int64_t count = 0;
  double r2 = 0;                     // 1 - SS_res / SS_tot on seconds
  double r2_log = 0;                 // the same on log(seconds)
  double median_abs_pct_error = 0;   // median |predicted - measured| / measured, in percent
  double mean_abs_pct_error = 0;     // in percent
  double max_abs_pct_error = 0;      // in percent
  double within_10pct = 0;           // share (0..1) of predictions within ±10 % of measured

  static FitStatistics of(const std::vector<double>& predicted, const std::vector<double>& measured);
  nlohmann::json to_json() const;
  static FitStatistics from_json(const nlohmann::json& j);
};

/// Latency = Σ coefficient_k × feature_k, with every coefficient >= 0.
struct NARROW_API LatencyModel {
  std::vector<std::string> features;
  std::vector<double> coefficients;  // seconds per unit of each feature

  /// Fits on rows of feature values (`x[i]` has one value per feature) and measured seconds
  /// `y` by non-negative least squares of the relative error (each row weighted by 1 / y²),
  /// so that small and large models count alike. Throws InputError for fewer rows than
  /// features, non-positive latencies or features that are not finite.
  static LatencyModel fit(const std::vector<std::string>& features,
                          const std::vector<std::vector<double>>& x, const std::vector<double>& y);
  /// The kernel-level fit, from layer timings: `layers[i]` are the features of the layers of
  /// sample i (its folded architecture), `layer_seconds[i]` their measured times inside the
  /// network and `y[i]` the measured latency of the whole network. First, each layer kind's
  /// features are fitted to the times of that kind's layers (non-negative least squares,
  /// every layer weighted by 1 / its network's latency, so that a layer counts by its share
  /// of a network); then one non-negative scale per kind and a constant are fitted to the
  /// whole networks' latencies (relative error), which accounts for what the layers' times
  /// inside the network miss (the interpreter between layers, cache effects one layer leaves
  /// to the next). The result is a model on layered_latency_features(). A kind with fewer
  /// layers than features is fitted on its "layers" feature alone; a kind no sample has gets
  /// zero coefficients (`unseen` receives its name). Throws InputError for fewer samples than
  /// kinds seen plus one, non-positive latencies, or layer counts that do not match.
  static LatencyModel fit_layers(const std::vector<std::vector<LayerFeatures>>& layers,
                                 const std::vector<std::vector<double>>& layer_seconds,
                                 const std::vector<double>& y,
                                 std::vector<std::string>* unseen = nullptr);
  double predict(const std::vector<double>& feature_values) const;
  double predict(const Architecture& arch) const;
};

/// Solves min ||A x - b||₂ subject to x >= 0 (Lawson-Hanson active set, Householder QR for
/// each passive set). `a` is row-major, rows × cols. Used by LatencyModel::fit.
NARROW_API std::vector<double> nonnegative_least_squares(const std::vector<double>& a,
                                                         std::size_t rows, std::size_t cols,
                                                         const std::vector<double>& b);

/// A calibration: a latency model of one device with its error statistics. Stored as JSON
/// (docs/devices.md, "Calibration file").
struct NARROW_API Calibration {
  nlohmann::json device;  // Device::description() of the measured device
  LatencyOptions options;
  LatencyModel model;
  std::string fit = "totals";  // "layers" (LatencyModel::fit_layers) or "totals" (fit)
  std::int64_t samples = 0;  // architectures measured (training + held out)
  FitStatistics training, held_out;
  double noise_cv_median = 0;  // median coefficient of variation of the measurements
  std::vector<std::string> spaces;
  std::uint64_t seed = 0;
  std::string date;  // UTC, ISO 8601

  nlohmann::json to_json() const;
  /// Reads a calibration; anything missing or malformed is an InputError naming `source`
  /// (the file) and what is wrong.
  static Calibration from_json(const nlohmann::json& j, const std::string& source = {});
  void save(const std::string& path) const;
  static Calibration load(const std::string& path);
};

/// The current UTC time as "YYYY-MM-DDTHH:MM:SSZ".
NARROW_API std::string utc_timestamp();

}  // namespace narrow
