#pragma once
// int8 affine quantisation as int8 deployment does it (TFLite, PyTorch): x ~ (q - zp) * scale.
// Activations: per tensor, asymmetric; by default (static) from the range the tensor took on
// calibration images, fixed for every image; `dynamic`, from each call's own min and max.
// Weights: per output channel, symmetric (zp 0, q in [-127, 127]). Biases: kept in float32
// (deployment keeps them as int32 at scale s_in * s_w, and they are counted as such).
#include <cstdint>
#include <span>
#include <string>

#include "narrow/format.hpp"
#include "narrow/parameters.hpp"

namespace narrow::formats {

/// The affine parameters of one tensor or channel.
struct AffineParams {
  float scale = 1.0f;
  int zero_point = 0;
  int q_min = -128, q_max = 127;
};

class Int8Format final : public NumberFormat {
 public:
  /// How activation ranges are found.
  enum class Ranges { fixed_by_calibration, per_call };
  static constexpr std::int64_t default_calibration = 512;

  explicit Int8Format(Ranges ranges = Ranges::fixed_by_calibration,
                      std::int64_t calibration = default_calibration);
  /// The parameters: ranges (static, dynamic), calibration (images).
  static ParamSchema schema();

  /// "int8" (static, 512 images), "int8(dynamic)", "int8(static,N)": text that builds it again.
  std::string name() const override;
  int bits() const override { return 8; }
  void round(std::span<float> values, const RoundingOptions& options = {}) const override;
  void quantize(std::span<float> values, const TensorInfo& tensor,
                const RoundingOptions& options = {}) const override;
  /// int8 weights with a float32 scale and a 32-bit zero point per output channel, int32
  /// biases, and a float32 scale and 32-bit zero point per activation tensor (static only).
  std::int64_t stored_bits(const TensorInfo& tensor, std::int64_t values) const override;
  std::int64_t calibration_images() const override;

  /// Per-tensor asymmetric parameters from the finite values' min and max, the range
  /// extended to hold 0.
  static AffineParams asymmetric(std::span<const float> values);
  /// Symmetric parameters from the finite values' largest magnitude.
  static AffineParams symmetric(std::span<const float> values);
  /// Quantises and dequantises values in place with `p`; value i draws its stochastic bits
  /// from (seed, offset + i).
  static void apply(std::span<float> values, const AffineParams& p, const RoundingOptions& options);
  /// Per-tensor asymmetric parameters of the range [low, high], extended to hold 0.
  static AffineParams asymmetric(double low, double high);

 private:
  Ranges ranges_;
  std::int64_t calibration_;
};

}  // namespace narrow::formats
