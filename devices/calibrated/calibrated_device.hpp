#pragma once
// The `calibrated` device: a measuring device with a latency model fitted on its measurements
// (`narrow calibrate`). It predicts latency from the calibration file without running the
// model, and measures through the device it wraps.
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "narrow/device.hpp"
#include "narrow/latency_model.hpp"
#include "narrow/parameters.hpp"

namespace narrow {
class Registry;
}

namespace narrow::devices {

class CalibratedDevice final : public Device {
 public:
  /// `registry` builds the wrapped device; it outlives every device (the process's registry).
  CalibratedDevice(const Parameters& p, const Registry& registry);
  static ParamSchema schema();

  std::string name() const override { return "calibrated"; }
  nlohmann::json description() const override;
  std::int64_t ram_bytes() const override { return wrapped_->ram_bytes(); }
  std::int64_t flash_bytes() const override { return wrapped_->flash_bytes(); }
  bool measures() const override { return wrapped_->measures(); }
  LatencyOptions latency_options() const override { return calibration_.options; }
  LatencyMeasurement measure(const Architecture& arch, const LatencyOptions& options) override;
  bool predicts() const override { return true; }
  std::optional<double> predict(const Architecture& arch, const Metrics& metrics) const override;

  const Calibration& calibration() const { return calibration_; }

 private:
  Parameters parameters_;
  Calibration calibration_;
  std::unique_ptr<Device> wrapped_;
};

}  // namespace narrow::devices
