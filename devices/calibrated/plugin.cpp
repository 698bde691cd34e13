#include <memory>

#include "calibrated_device.hpp"
#include "narrow/plugin.hpp"

namespace {
using narrow::devices::CalibratedDevice;

void register_calibrated(narrow::Registry& registry) {
  // CalibratedDevice(parameters, registry): the wrapped device is built by name through the
  // registry that builds this one (not the staging copy a plugin registers into).
  registry.add<CalibratedDevice>(
      "calibrated",
      "a measuring device with a latency model fitted by `narrow calibrate`: predicts latency "
      "without running the model",
      CalibratedDevice::schema());
}
}  // namespace

NARROW_PLUGIN("calibrated", "0.1.0", register_calibrated)
