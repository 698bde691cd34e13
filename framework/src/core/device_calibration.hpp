#pragma once
// Internal: the calibration of a measuring device (what `narrow calibrate` runs). Architectures
// are drawn across search spaces and spread over orders of magnitude of MACs, measured on the
// device, and a latency model is fitted on a share of them and tested on the others; the
// result is a Calibration (narrow/latency_model.hpp), written to a file the `calibrated` device
// loads, with a CSV of every measured architecture and, on request, a measurements file that a
// later calibration can fit again without measuring.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/device.hpp"
#include "narrow/export.hpp"
#include "narrow/latency_model.hpp"
#include "narrow/metrics.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"

namespace narrow {

/// A search space to draw calibration architectures from, with its laws.
struct NARROW_API CalibrationSpace {
  std::string label;
  std::shared_ptr<SearchSpace> space;
  std::vector<SamplingLaw> laws;
};

/// One architecture of a calibration: where it was drawn, its measurement and what the fitted
/// model predicts for it.
struct NARROW_API CalibrationSample {
  std::string space, law;
  std::string hash;
  Metrics metrics;
  Architecture arch;
  std::vector<double> features;  // the values of CalibrationOptions::features
  LatencyMeasurement latency;
  bool held_out = false;  // kept out of the fit to test it
  double predicted = 0;   // seconds
};

/// What a calibration does. Error messages name the options of `narrow calibrate`.
struct NARROW_API CalibrationOptions {
  /// "layers" (LatencyModel::fit_layers on layer timings, with a whole-network fit on
  /// default_latency_features() beside it as the baseline) or "totals" (LatencyModel::fit on
  /// `features`).
  std::string fit = "layers";
  /// The model's features: layered_latency_features() for "layers".
  std::vector<std::string> features = layered_latency_features();
  std::size_t count = 150;  // architectures to measure
  std::size_t pool = 40;    // candidates drawn per measured architecture
  double held_out = 0.3;    // share kept out of the fit, strictly between 0 and 1
  std::uint64_t seed = 1;
  int threads = 1;          // threads that draw candidates
  /// The MACs range of the architectures drawn, and its bounds as the user wrote them.
  double min_macs = 0, max_macs = 0;
  std::string min_macs_text, max_macs_text;
  std::string device_name;  // the measuring device as the user named it
  std::string out;          // the calibration file to write
  std::string csv;          // every measured architecture as CSV (none when empty)
  std::string save_measurements;  // write the measurements file (none when empty)
  std::string measurements;       // fit on this measurements file instead of measuring
  /// Lines for the user (the start of the measurements, warnings); stderr when empty.
  std::function<void(const std::string&)> notice;
};

/// What a calibration came to.
struct NARROW_API CalibrationOutcome {
  Calibration calibration;  // as written to CalibrationOptions::out
  std::vector<CalibrationSample> samples;
  std::size_t held_out = 0;  // samples kept out of the fit
  /// The whole-network fit on the held-out samples: the model itself for "totals", the
  /// baseline on baseline_features for "layers".
  std::vector<std::string> baseline_features;
  FitStatistics baseline_held_out;
  std::int64_t repeated = 0;  // measurements repeated because they were noisy
  std::int64_t noisy = 0;     // measurements still noisy after their repetitions
};

/// Architectures a fit needs at least: one per feature for "totals", one per layer kind and
/// the constant for "layers".
NARROW_API std::size_t minimum_fit_samples(const CalibrationOptions& options);

/// Calibrates: draws options.count architectures from `spaces` and measures them on `device`
/// (a measuring device), or reads the measurements of options.measurements (then `device` and
/// `spaces` are not used); fits the model, tests it on the held-out share and writes the
/// calibration file, the CSV and the measurements file that the options name. Bad input (too
/// few architectures, a space that draws none in the MACs range, measurements without layer
/// times for a layered fit) is an InputError.
NARROW_API CalibrationOutcome calibrate_device(Device* device,
                                               const std::vector<CalibrationSpace>& spaces,
                                               const CalibrationOptions& options);

/// The measurements file: a header line with the device's description and the measurement
/// options, then one JSON object a line per architecture (space, law, canonical JSON,
/// measurement).
NARROW_API void save_measurements(const std::string& path,
                                  const std::vector<CalibrationSample>& samples,
                                  const nlohmann::json& device, const LatencyOptions& options);
/// Reads a measurements file, computing `features` of every architecture; `device`, `options`
/// and `spaces` (in order of first appearance) receive what the file says. A bad line is an
/// InputError naming the file and the line.
NARROW_API std::vector<CalibrationSample> load_measurements(
    const std::string& path, const std::vector<std::string>& features, nlohmann::json& device,
    LatencyOptions& options, std::vector<std::string>& spaces);

}  // namespace narrow
