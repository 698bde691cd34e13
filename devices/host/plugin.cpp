#include <memory>

#include "host_device.hpp"
#include "narrow/plugin.hpp"

namespace {
using narrow::Component;
using narrow::Parameters;
using narrow::devices::HostDevice;

void register_host(narrow::Registry& registry) {
  registry.add<HostDevice>("host",
               "this machine's CPU: measures inference latency with LibTorch (batch 1, batch "
               "norm folded, mean of timed runs)",
               HostDevice::schema());
}
}  // namespace

NARROW_PLUGIN("host", "0.1.0", register_host)
