#pragma once
// The LibTorch trainer and evaluator. Only translation units that hold tensors include this.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "narrow/architecture.hpp"
#include "engine/builder.hpp"
#include "narrow/dataset.hpp"
#include "narrow/export.hpp"
#include "narrow/training.hpp"

namespace narrow {

/// Initialises every parameter and buffer of a module from `generator` alone (the scheme of
/// LibTorch's defaults: Kaiming-uniform weights, uniform biases, batch norm 1 and 0), so that
/// the weights depend on the job's seed and not on other threads drawing from the global
/// generator.
NARROW_API void init_weights(GraphModule& module, at::Generator& generator);

/// Top-1 accuracy, mean cross-entropy loss and the confusion matrix of `module` on `set`, in
/// inference mode, batch by batch.
NARROW_API Evaluation evaluate(GraphModule& module, const ImageSet& set, std::int64_t classes,
                               std::int64_t batch_size = 256);

/// Class probabilities (softmax of the logits) of `module` for every image of `set`, image by
/// image (set.size() x classes values), in inference mode.
NARROW_API std::vector<float> probabilities(GraphModule& module, const ImageSet& set,
                                            std::int64_t classes, std::int64_t batch_size = 256);

/// What a training job adds to the plain training loop.
struct NARROW_API TrainingExtras {
  /// Start from these weights (save_weights' form) instead of drawing them from the seed.
  std::string init_weights;
  /// More parameters to train (a channel search's masks), by an SGD of their own at this
  /// learning rate (constant), the loop's momentum and no weight decay: a mask moves in
  /// proportion to its gradient, so the channels that cost more or help less go first.
  std::vector<torch::Tensor> parameters;
  double learning_rate = 0;
  /// Called before each iteration's forward pass with the module and the 0-based epoch;
  /// returns a term to add to the task loss (undefined: none). The loss the history records
  /// is the task loss alone.
  std::function<torch::Tensor(GraphModule& module, std::int64_t epoch)> before_step;
  /// Whether the trained model is evaluated at the end (validation, if the last epoch did
  /// not, and test); false when the caller evaluates another model in its place.
  bool final_evaluation = true;
};

/// Trains a model of `arch` on `data` with `config` in the calling thread, using `threads`
/// LibTorch threads: SGD with momentum (Nesterov optional) and weight decay, the schedule per
/// iteration, label smoothing, the data's augmentation, batches shuffled by `seed`. Stops and
/// returns status "failed" when the loss becomes NaN or Inf. Evaluates the validation set
/// after each epoch and the validation and test sets at the end. `on_epoch` may be empty.
/// With `module_out`, the trained module is handed back.
NARROW_API TrainResult train_model(const Architecture& arch, const PreparedData& data,
                                   const TrainingConfig& config, std::uint64_t seed, int threads,
                                   bool keep_weights,
                                   const std::function<void(const EpochRecord&)>& on_epoch,
                                   GraphModule* module_out = nullptr,
                                   const TrainingExtras* extras = nullptr);

/// Weights (parameters and buffers) to bytes and back; load checks names and shapes.
NARROW_API std::string save_weights(GraphModule& module);
NARROW_API void load_weights(GraphModule& module, const std::string& bytes);

}  // namespace narrow
