#include <memory>

#include "calibrated_device.hpp"
#include "narrow/errors.hpp"
#include "narrow/plugin.hpp"

namespace {
using narrow::Component;
using narrow::Parameters;
using narrow::devices::CalibratedDevice;

void register_calibrated(narrow::Registry& registry) {
  // The wrapped device is built by name through the registry that builds this one
  // (Registry::creating()); the registry given here is the loader's staging copy.
  registry.add(narrow::Kind::device, "calibrated",
               "a measuring device with a latency model fitted by `narrow calibrate`: predicts "
               "latency without running the model",
               CalibratedDevice::schema(), [](const Parameters& p) -> std::unique_ptr<Component> {
                 const narrow::Registry* creator = narrow::Registry::creating();
                 if (!creator) throw narrow::Error("internal: no registry is creating a device");
                 return std::make_unique<CalibratedDevice>(p, *creator);
               });
}
}  // namespace

NARROW_PLUGIN("calibrated", "0.1.0", register_calibrated)
