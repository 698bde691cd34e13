#pragma once
// The LibTorch half of narrow (libnarrow_torch) as the kernel sees it: an interface with no
// LibTorch in it, and the function that loads the library on first use. Program-internal:
// plugins reach the engine through StageContext::training() and measure_on_this_cpu().
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "narrow/architecture.hpp"
#include "narrow/dataset.hpp"
#include "narrow/device.hpp"
#include "narrow/export.hpp"
#include "narrow/format.hpp"
#include "narrow/training.hpp"

namespace narrow {

class Registry;

/// What the LibTorch half of narrow (libnarrow_torch) offers the kernel. The kernel loads it
/// on first use, so that commands that do not train start without loading LibTorch.
class NARROW_API TorchEngine {
 public:
  virtual ~TorchEngine();
  /// A local scheduler: `jobs` at once with `threads` LibTorch threads each (0: jobs x threads
  /// fill the cores).
  virtual std::unique_ptr<TrainingService> local_scheduler(const Registry& registry, int jobs,
                                                           int threads) = 0;
  /// Trains one job in the calling thread. `on_epoch` (may be empty) hears of each epoch.
  virtual TrainResult train(const Registry& registry, const TrainJob& job,
                            const std::function<void(const EpochRecord&)>& on_epoch) = 0;
  /// Evaluates an architecture (canonical JSON) with trained `weights` (as TrainResult keeps
  /// them, or as `narrow train --save` writes them) on the validation and test sets of
  /// `dataset`, with `threads` LibTorch threads. Weights that do not fit the architecture are
  /// an InputError.
  virtual std::pair<Evaluation, Evaluation> evaluate(const Registry& registry,
                                                     const std::string& architecture_json,
                                                     const std::string& weights,
                                                     const DatasetSpec& dataset, int threads) = 0;
  /// Measures the inference latency of a finalized architecture on this CPU: batch
  /// size 1, batch norm folded, eval and inference mode, random weights, `options.warmup`
  /// untimed runs then `options.runs` timed ones on `options.threads` LibTorch threads (see
  /// LatencyOptions for the repetition of noisy measurements).
  virtual LatencyMeasurement measure_latency(const Architecture& arch,
                                             const LatencyOptions& options) = 0;
};

/// The engine, loaded from libnarrow_torch next to libnarrow on first call. Throws Error
/// when the library cannot be loaded.
NARROW_API TorchEngine& torch_engine();

}  // namespace narrow
