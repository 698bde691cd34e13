#include <memory>

#include "host_device.hpp"
#include "narrow/plugin.hpp"

namespace {
using narrow::Component;
using narrow::Parameters;
using narrow::devices::HostDevice;

void register_host(narrow::Registry& registry) {
  registry.add(narrow::Kind::device, "host",
               "this machine's CPU: measures inference latency with LibTorch (batch 1, batch "
               "norm folded, mean of timed runs)",
               HostDevice::schema(), [](const Parameters& p) -> std::unique_ptr<Component> {
                 return std::make_unique<HostDevice>(p);
               });
}
}  // namespace

NARROW_PLUGIN("host", "0.1.0", register_host)
