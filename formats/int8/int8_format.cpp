#include "int8_format.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/random.hpp"

namespace narrow::formats {

namespace {

/// A scale as float32, never zero nor subnormal (a range of zero width gets scale 1).
float make_scale(double range, double levels) {
  if (!(range > 0)) return 1.0f;
  return std::max(float(range / levels), FLT_MIN);
}

}  // namespace

Int8Format::Int8Format(Ranges ranges, std::int64_t calibration)
    : ranges_(ranges), calibration_(calibration) {
  if (calibration < 1)
    throw InputError(fmt::format("int8: calibration must be at least 1 image, not {}", calibration));
}

ParamSchema Int8Format::schema() {
  return {ParamSpec::choice("ranges", "static", {"static", "dynamic"},
                            "activation ranges: static (calibrated once, then fixed) or "
                            "dynamic (each image's own min and max)"),
          ParamSpec::integer("calibration", default_calibration, 1, 1000000,
                             "images of the training split that calibrate static ranges")};
}

std::string Int8Format::name() const {
  if (ranges_ == Ranges::per_call) return "int8(dynamic)";
  if (calibration_ == default_calibration) return "int8";
  return fmt::format("int8(static,{})", calibration_);
}

std::int64_t Int8Format::calibration_images() const {
  return ranges_ == Ranges::fixed_by_calibration ? calibration_ : 0;
}

std::int64_t Int8Format::stored_bits(const TensorInfo& tensor, std::int64_t values) const {
  constexpr std::int64_t scale_and_zero_point = 32 + 32;
  switch (tensor.role) {
    case TensorInfo::Role::weight:
      return 8 * values + scale_and_zero_point * tensor.channels;
    case TensorInfo::Role::bias:
      return 32 * values;  // int32 at scale s_in * s_w: no scale of its own
    case TensorInfo::Role::activation:
      // A static model stores each activation tensor's scale and zero point; a dynamic one
      // computes them at run time.
      return ranges_ == Ranges::fixed_by_calibration ? scale_and_zero_point : 0;
  }
  return 0;
}

AffineParams Int8Format::asymmetric(std::span<const float> values) {
  double lo = 0, hi = 0;
  for (float x : values)
    if (std::isfinite(x)) {
      lo = std::min(lo, double(x));
      hi = std::max(hi, double(x));
    }
  return asymmetric(lo, hi);
}

AffineParams Int8Format::asymmetric(double low, double high) {
  const double lo = std::min(low, 0.0), hi = std::max(high, 0.0);  // 0 stays exact
  AffineParams p;
  p.q_min = -128;
  p.q_max = 127;
  p.scale = make_scale(hi - lo, 255.0);
  const double zp = std::nearbyint(-128.0 - lo / double(p.scale));  // ties to even
  p.zero_point = int(std::clamp(zp, -128.0, 127.0));
  return p;
}

AffineParams Int8Format::symmetric(std::span<const float> values) {
  double amax = 0;
  for (float x : values)
    if (std::isfinite(x)) amax = std::max(amax, std::fabs(double(x)));
  AffineParams p;
  p.q_min = -127;
  p.q_max = 127;
  p.zero_point = 0;
  p.scale = make_scale(amax, 127.0);
  return p;
}

void Int8Format::apply(std::span<float> values, const AffineParams& p,
                       const RoundingOptions& options) {
  const double scale = p.scale, zp = p.zero_point;
  const double q_min = p.q_min, q_max = p.q_max;
  round_each(values, options, [&](float x, Rounding mode, std::uint64_t random) {
    double q = zp;  // NaN becomes the zero point, that is 0
    if (std::isinf(x))
      q = x > 0 ? q_max : q_min;
    else if (!std::isnan(x))
      q = std::clamp(round_integer(double(x) / scale, mode, random) + zp, q_min, q_max);
    return float((q - zp) * scale);  // +0 for q == zp
  });
}

void Int8Format::round(std::span<float> values, const RoundingOptions& options) const {
  apply(values, asymmetric(values), options);
}

void Int8Format::quantize(std::span<float> values, const TensorInfo& tensor,
                          const RoundingOptions& options) const {
  switch (tensor.role) {
    case TensorInfo::Role::bias:
      return;  // kept in float32: see README.md
    case TensorInfo::Role::activation:
      if (ranges_ == Ranges::fixed_by_calibration && tensor.calibrated)
        return apply(values, asymmetric(double(tensor.low), double(tensor.high)), options);
      return round(values, options);
    case TensorInfo::Role::weight: {
      const std::int64_t channels = tensor.channels;
      if (channels < 1 || values.size() % std::size_t(channels) != 0)
        throw InputError(fmt::format(
            "int8: a weight tensor of {} values cannot be split into {} output channels",
            values.size(), channels));
      const std::size_t per = values.size() / std::size_t(channels);
      for (std::int64_t c = 0; c < channels; ++c) {
        const std::size_t begin = std::size_t(c) * per;
        auto channel = values.subspan(begin, per);
        RoundingOptions o = options;
        o.offset = options.offset + begin;
        apply(channel, symmetric(channel), o);
      }
      return;
    }
  }
}

}  // namespace narrow::formats
