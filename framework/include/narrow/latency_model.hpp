#pragma once
// The latency predictor of devices: features computed from the graph of an architecture, a
// latency model fitted to measurements by non-negative least squares that minimises relative
// error, its error statistics and the calibration file that keeps a fitted model (the
// `calibrated` device reads it; `narrow calibrate` writes it). No LibTorch here.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/device.hpp"
#include "narrow/export.hpp"

namespace narrow {

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

/// The current UTC time as "YYYY-MM-DDTHH:MM:SSZ" (what Calibration::date holds).
NARROW_API std::string utc_timestamp();

}  // namespace narrow
