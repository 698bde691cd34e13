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
  /// The range of one rounded tensor over calibration images.
  struct Range {
    float low = 0, high = 0;
  };
  /// One range per rounded tensor: [0] the input, [i + 1] the output of layer i (unused for
  /// layers whose output is not rounded).
  using Ranges = std::vector<Range>;

  QuantizedModel(const Architecture& arch, GraphModule& trained);

  /// Static quantisation's calibration: the float32 model (batch norm folded) runs on
  /// n = min(count, size) images of `images`, spread evenly (image k * size / n for k < n),
  /// and every tensor that evaluate() rounds
  /// records its minimum and maximum over them (slots of tensors that are not rounded keep
  /// low = +inf, high = -inf).
  Ranges calibrate(const ImageSet& images, std::int64_t count, std::int64_t batch_size = 500) const;

  /// Loss, top-1 accuracy and confusion matrix on `set` in `format` (nullptr: float32, with
  /// batch norm folded). Activations are rounded image by image: with `ranges`, each tensor
  /// as calibrated (TensorInfo::calibrated), otherwise from each image's own values. Results
  /// do not depend on the batch size.
  Evaluation evaluate(const ImageSet& set, std::int64_t classes, const NumberFormat* format,
                      const RoundingOptions& options = {}, std::int64_t batch_size = 500,
                      const Ranges* ranges = nullptr) const;

  /// What a device stores for this model in `format` (nullptr: float32), in bytes: the sum
  /// of NumberFormat::stored_bits over every weight and bias tensor after folding and every
  /// rounded activation tensor (the input and each output evaluate() rounds), rounded up.
  std::int64_t stored_bytes(const NumberFormat* format) const;
  /// Activation tensors evaluate() rounds: the input and every new value computed.
  std::int64_t rounded_tensors() const;

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
  /// Runs the model. With `format`, rounds the input and every new value (with `ranges`, as
  /// calibrated); with `record`, widens record[k] by each such tensor's values instead.
  torch::Tensor forward(torch::Tensor x, const std::vector<torch::Tensor>& weights,
                        const std::vector<torch::Tensor>& biases, const NumberFormat* format,
                        const RoundingOptions& options, const Ranges* ranges,
                        Ranges* record) const;
  bool rounds_output(std::size_t i) const;
  /// Copies of the weights and biases, rounded to `format` unless it is nullptr.
  std::vector<torch::Tensor> parameters_in(const NumberFormat* format,
                                           const RoundingOptions& options,
                                           std::vector<torch::Tensor>& biases) const;
  Architecture arch_;
  std::vector<Step> steps_;
  std::int64_t parameters_ = 0;
  int folded_ = 0;
};

}  // namespace narrow
