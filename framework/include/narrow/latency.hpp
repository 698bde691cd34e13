#pragma once
// Host latency measurement with LibTorch. Defined in libnarrow_torch: the kernel and plugins
// reach it through torch_engine().measure_latency() (training.hpp), never directly.
#include <string>

#include "narrow/device.hpp"
#include "narrow/export.hpp"

namespace narrow {

/// Measures an architecture (canonical JSON) on this CPU as TorchEngine::measure_latency
/// describes. Bad JSON or options out of range are InputError.
NARROW_API LatencyMeasurement measure_latency(const std::string& architecture_json,
                                              const LatencyOptions& options);

}  // namespace narrow
