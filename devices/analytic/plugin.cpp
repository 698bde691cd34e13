#include <memory>

#include "analytic_device.hpp"
#include "narrow/plugin.hpp"

namespace {
using narrow::Component;
using narrow::Parameters;
using narrow::devices::AnalyticDevice;

void register_analytic(narrow::Registry& registry) {
  registry.add<AnalyticDevice>("analytic",
               "a device described in YAML: latency predicted by a per-layer roofline (peak "
               "compute, memory bandwidth, overhead per layer)",
               AnalyticDevice::schema());
}
}  // namespace

NARROW_PLUGIN("analytic", "0.1.0", register_analytic)
