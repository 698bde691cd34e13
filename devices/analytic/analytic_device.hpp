#pragma once
// The `analytic` device: latency predicted by a per-layer roofline from a description of the
// hardware (peak compute, memory bandwidth, a fixed cost per layer), without running anything.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "narrow/device.hpp"
#include "narrow/parameters.hpp"

namespace narrow::devices {

/// A device as its description file says (docs/devices.md, "Analytic devices").
struct DeviceDescription {
  std::string name;
  std::string summary;
  std::int64_t cores = 0;      // informational
  double frequency_mhz = 0;    // informational
  std::int64_t ram_bytes = 0;  // 0: unknown
  std::int64_t flash_bytes = 0;
  double peak_flops = 0;           // floating-point operations per second (an FMA is 2)
  double bandwidth = 0;            // bytes per second between memory and the cores
  double layer_overhead = 0;       // seconds per executed layer (dispatch, loop set-up)
  int bits = 32;                   // bits of every value moved (weights and activations)
  std::string source;              // the file, or "preset NAME"

  /// Reads a description; an error is one InputError "FILE:LINE:COLUMN: error: what".
  static DeviceDescription parse(const std::string& text, const std::string& source);
  static DeviceDescription load(const std::string& path);
  /// A built-in description ("raspberry_pi_3b_plus", "stm32f746").
  static DeviceDescription preset(const std::string& name);
  nlohmann::json to_json() const;
};

/// Seconds of one inference of a finalized architecture on `d`: the batch-norm-folded network,
/// layer by layer, max(FLOPs / peak, bytes moved / bandwidth) plus the per-layer overhead.
double roofline_seconds(const Architecture& arch, const DeviceDescription& d);

class AnalyticDevice final : public Device {
 public:
  explicit AnalyticDevice(const Parameters& p);
  static ParamSchema schema();

  std::string name() const override { return "analytic"; }
  nlohmann::json description() const override;
  std::int64_t ram_bytes() const override { return device_.ram_bytes; }
  std::int64_t flash_bytes() const override { return device_.flash_bytes; }
  bool predicts() const override { return true; }
  std::optional<double> predict(const Architecture& arch, const Metrics& metrics) const override;

 private:
  Parameters parameters_;
  DeviceDescription device_;
};

}  // namespace narrow::devices
