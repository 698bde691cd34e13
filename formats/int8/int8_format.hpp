#pragma once
// int8 affine quantisation as int8 deployment does it (TFLite, PyTorch): x ~ (q - zp) * scale.
// Activations (and round() without tensor information): per tensor, asymmetric, from the
// tensor's min and max. Weights: per output channel, symmetric (zp 0, q in [-127, 127]).
// Biases: kept in float32 (deployment keeps them as int32 at scale s_in * s_w).
#include <cstdint>
#include <span>
#include <string>

#include "narrow/format.hpp"

namespace narrow::formats {

/// The affine parameters of one tensor or channel.
struct AffineParams {
  float scale = 1.0f;
  int zero_point = 0;
  int q_min = -128, q_max = 127;
};

class Int8Format final : public NumberFormat {
 public:
  std::string name() const override { return "int8"; }
  int bits() const override { return 8; }
  void round(std::span<float> values, const RoundingOptions& options = {}) const override;
  void quantize(std::span<float> values, const TensorInfo& tensor,
                const RoundingOptions& options = {}) const override;

  /// Per-tensor asymmetric parameters from the finite values' min and max, the range
  /// extended to hold 0.
  static AffineParams asymmetric(std::span<const float> values);
  /// Symmetric parameters from the finite values' largest magnitude.
  static AffineParams symmetric(std::span<const float> values);
  /// Quantises and dequantises values in place with `p`; value i draws its stochastic bits
  /// from (seed, offset + i).
  static void apply(std::span<float> values, const AffineParams& p, const RoundingOptions& options);
};

}  // namespace narrow::formats
