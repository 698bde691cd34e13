#pragma once
// Architecture -> LibTorch module. Only translation units that hold tensors include this.
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "narrow/architecture.hpp"
#include "narrow/export.hpp"

namespace narrow {

/// A LibTorch module that runs an Architecture's graph. Each layer is a registered submodule
/// named after its id (layers without weights are applied functionally).
class NARROW_API GraphModuleImpl : public torch::nn::Module {
 public:
  explicit GraphModuleImpl(const Architecture& arch);
  /// x: [N, C, H, W]; returns logits [N, classes].
  torch::Tensor forward(torch::Tensor x);
  /// Runs forward and records the output shape of every layer (without the batch dimension).
  torch::Tensor forward_recording(torch::Tensor x, std::vector<std::vector<std::int64_t>>& shapes);
  /// Runs forward and adds the wall-clock seconds each layer took to `seconds` (one entry per
  /// layer of the architecture, resized when it has another length): a latency profile of the
  /// layers as they run inside the network, with its caches and memory state.
  torch::Tensor forward_timed(torch::Tensor x, std::vector<double>& seconds);
  const Architecture& architecture() const { return arch_; }
  /// Dropout masks in training mode are drawn from `generator` (Bernoulli, kept values
  /// scaled by 1/(1-p)), so that they depend on a job's seed alone; without one (the
  /// default), dropout uses torch::dropout and LibTorch's global generator.
  void set_generator(std::optional<at::Generator> generator) { generator_ = std::move(generator); }
  const std::optional<at::Generator>& generator() const { return generator_; }
  /// Channel masks (a channel search): when entry i is defined, layer i's output is multiplied
  /// by it (broadcast: [1, C, 1, 1] for a feature map, [1, C] for a vector). Empty: no masks.
  void set_output_masks(std::vector<torch::Tensor> masks) { masks_ = std::move(masks); }

 private:
  torch::Tensor run(torch::Tensor x, std::vector<std::vector<std::int64_t>>* shapes,
                    std::vector<double>* seconds = nullptr);
  torch::Tensor dropout(const torch::Tensor& a, double p);
  Architecture arch_;
  std::vector<torch::nn::AnyModule> modules_;  // one per layer; empty for functional layers
  std::optional<at::Generator> generator_;     // dropout masks; none: the global generator
  std::vector<torch::Tensor> masks_;           // channel masks by layer; empty: none
};
TORCH_MODULE(GraphModule);

/// Applies a layer that has no weights (relu, relu6, max and average pooling, global average
/// pooling, add, concat, flatten) to its inputs, as the graph module and the precision
/// evaluator both run it. Other ops (conv2d, linear, batchnorm, dropout) are an Error.
NARROW_API torch::Tensor functional_layer(const Layer& layer,
                                          const std::vector<torch::Tensor>& inputs);

/// Builds a module for a finalized architecture (weights initialised by LibTorch defaults).
NARROW_API GraphModule build_module(const Architecture& arch);

/// Number of trainable parameters of a module, as a PyTorch user counts them.
NARROW_API std::int64_t count_parameters(torch::nn::Module& module);

}  // namespace narrow
