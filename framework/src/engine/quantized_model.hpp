#pragma once
// The precision analysis (extrinsic quantisation, Scheidegger et al. 3.2): a trained model
// evaluated with every parameter and every activation map between operations rounded to a
// number format. Only translation units that hold tensors include this.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "narrow/architecture.hpp"
#include "engine/builder.hpp"
#include "narrow/dataset.hpp"
#include "narrow/export.hpp"
#include "narrow/format.hpp"
#include "narrow/training.hpp"

namespace narrow {

/// A trained model prepared once for evaluations under any number of formats: batch norm
/// folded into the convolution before it (as deployment does), the folded float32 weights
/// kept as the master copy. Each evaluation rounds a copy of the weights, the input, and the
/// output of every operation that computes new values (convolution, linear, unfolded batch
/// norm, add, average pooling); ReLU, max pooling, concatenation, flattening and dropout pass
/// representable values through unchanged and are not rounded again.
class NARROW_API QuantizedModel {
 public:
  QuantizedModel(const Architecture& arch, GraphModule& trained);

  /// Loss, top-1 accuracy and confusion matrix on `set` in `format` (nullptr: float32, with
  /// batch norm folded). Activations are rounded image by image, so per-tensor formats (int8)
  /// scale each image's maps on their own and results do not depend on the batch size.
  Evaluation evaluate(const ImageSet& set, std::int64_t classes, const NumberFormat* format,
                      const RoundingOptions& options = {}, std::int64_t batch_size = 500) const;

  /// Parameters counted after folding (what a deployed model stores).
  std::int64_t parameters() const { return parameters_; }
  /// Batch-norm layers folded into a convolution.
  int folded() const { return folded_; }

 private:
  struct Step {
    Op op = Op::relu;
    std::vector<int> inputs;  // layer indices, -1 for the network input
    torch::Tensor weight, bias;  // conv/linear (folded); unfolded batch norm: scale, shift
    bool identity = false;       // a batch norm folded into its convolution
    Layer layer;
  };
  torch::Tensor forward(torch::Tensor x, const std::vector<torch::Tensor>& weights,
                        const std::vector<torch::Tensor>& biases, const NumberFormat* format,
                        const RoundingOptions& options) const;
  Architecture arch_;
  std::vector<Step> steps_;
  std::int64_t parameters_ = 0;
  int folded_ = 0;
};

}  // namespace narrow
