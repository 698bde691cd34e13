#pragma once
// Host latency measurement with LibTorch. Defined in libnarrow_torch: the kernel and plugins
// reach it through measure_on_this_cpu() (device.hpp), never directly.
#include "narrow/architecture.hpp"
#include "narrow/device.hpp"
#include "narrow/export.hpp"

namespace narrow {

/// Measures a finalized architecture on this CPU as TorchEngine::measure_latency describes.
/// Options out of range are InputError.
NARROW_API LatencyMeasurement measure_latency(const Architecture& arch,
                                              const LatencyOptions& options);

}  // namespace narrow
