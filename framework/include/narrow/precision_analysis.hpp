#pragma once
// What a precision analysis evaluates, chosen one way for the `precision` stage and for
// `narrow precision --store`: the trained models a store holds, and the jobs that evaluate
// them in number formats on the training service (TrainingService::evaluate_precision).
// No LibTorch here.
#include <cstdint>
#include <string>
#include <vector>

#include "narrow/export.hpp"
#include "narrow/format.hpp"
#include "narrow/training.hpp"

namespace narrow {

class Store;

/// Which stored trainings a precision analysis evaluates: successful ones with stored weights.
struct NARROW_API TrainedModelQuery {
  std::string stage;        // of this stage only; of every stage when empty
  std::string hash_prefix;  // of the architectures whose hash starts with this
  /// Only the best training of each architecture (ranks_before), taken before looking for
  /// weights: an architecture whose best training kept none is left out.
  bool best_per_architecture = false;
  std::int64_t count = 0;  // only the `count` best of what remains (0: all)
};

/// The trainings a query chose.
struct NARROW_API TrainedModels {
  std::vector<TrainResult> trainings;  // with their weights, the best first (ranks_before)
  std::int64_t without_weights = 0;    // successful trainings passed over: they kept no weights
};

/// The trainings of `store` that `query` chooses, each with its weights read once.
NARROW_API TrainedModels trained_models(const Store& store, const TrainedModelQuery& query);

/// The job that evaluates the stored `training` in `formats` on `split` of the dataset it was
/// trained on: its architecture and dataset as the store keeps them, its weights moved out of
/// `training` (the job keeps the only copy). Error when the store lacks the architecture.
NARROW_API PrecisionJob stored_precision_job(const Store& store, TrainResult& training,
                                             std::vector<FormatText> formats,
                                             const std::string& split,
                                             const RoundingOptions& rounding);

}  // namespace narrow
