// What a device stores for an architecture in a number format, from the graph alone.
#include "core/rounded_ops.hpp"
#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "narrow/metrics.hpp"

namespace narrow {

bool computes_new_values(Op op) {
  switch (op) {
    case Op::conv2d:
    case Op::linear:
    case Op::batchnorm:
    case Op::add:
    case Op::avgpool:
    case Op::global_avgpool:
      return true;
    default:
      return false;
  }
}

std::int64_t deployed_bytes(const Architecture& arch, const NumberFormat* format) {
  if (!arch.finalized()) throw Error("internal: deployed_bytes() needs a finalized architecture");
  const auto& layers = arch.layers();
  const std::vector<int> folds = batchnorm_folds(arch);
  std::vector<char> folded(layers.size(), 0);  // a batch norm folded into its convolution
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (folds[i] >= 0) folded[i] = 1;

  auto stored = [&](TensorInfo::Role role, std::int64_t channels, std::int64_t values) {
    if (!format) return 32 * values;
    return format->stored_bits(TensorInfo{role, channels}, values);
  };
  std::int64_t bits = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const int j = arch.input_indices(i).front();
    const Shape& in = j < 0 ? arch.input() : arch.shape(static_cast<std::size_t>(j));
    std::int64_t weights = 0, channels = 0;
    if (l.op == Op::conv2d) {
      channels = l.out_channels;
      weights = l.out_channels * (in.c / l.groups) * l.kernel[0] * l.kernel[1];
    } else if (l.op == Op::linear) {
      channels = l.out_channels;
      weights = l.out_channels * in.volume();
    } else if (l.op == Op::batchnorm && !folded[i]) {
      channels = in.c;
      weights = in.c;
    } else {
      continue;
    }
    bits += stored(TensorInfo::Role::weight, channels, weights);
    bits += stored(TensorInfo::Role::bias, 1, channels);
  }
  if (format) {
    TensorInfo activation;
    activation.calibrated = format->calibration_images() > 0;
    bits += format->stored_bits(activation, arch.input().volume());
    for (std::size_t i = 0; i < layers.size(); ++i)
      // A folded batch norm is its convolution's output, rounded once.
      if (computes_new_values(layers[i].op) && !folded[i])
        bits += format->stored_bits(activation, arch.shape(i).volume());
  }
  return (bits + 7) / 8;
}

}  // namespace narrow
