#pragma once
// The `host` device: measures inference latency on this machine's CPU through the LibTorch
// engine (measure_on_this_cpu()), which the kernel loads on first use. The plugin itself does not
// link LibTorch.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "narrow/device.hpp"
#include "narrow/parameters.hpp"

namespace narrow::devices {

class HostDevice final : public Device {
 public:
  explicit HostDevice(const Parameters& p);
  static ParamSchema schema();

  std::string name() const override { return "host"; }
  nlohmann::json description() const override;
  std::int64_t ram_bytes() const override;
  /// The host's storage is not a constraint of the models it runs: unknown (0).
  std::int64_t flash_bytes() const override { return 0; }
  bool measures() const override { return true; }
  LatencyOptions latency_options() const override { return options_; }
  LatencyMeasurement measure(const Architecture& arch, const LatencyOptions& options) override;

 private:
  Parameters parameters_;
  LatencyOptions options_;
};

}  // namespace narrow::devices
