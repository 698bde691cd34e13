#include "ofp8_format.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/random.hpp"

namespace narrow::formats {

Ofp8Format::Ofp8Format(MinifloatSpec spec, bool saturate)
    : spec_(std::move(spec)), saturate_(saturate) {}

MinifloatSpec Ofp8Format::e4m3() {
  // bias 7; exponent 1111 is a normal binade except S.1111.111, the NaN: max 1.110b x 2^8.
  return {"e4m3", 3, -6, 448.0, false};
}

MinifloatSpec Ofp8Format::e5m2() {
  // bias 15; exponent 11111 holds Inf and NaN as in IEEE 754: max 1.11b x 2^15.
  return {"e5m2", 2, -14, 57344.0, true};
}

ParamSchema Ofp8Format::schema(const MinifloatSpec& spec, bool saturate_default) {
  return {ParamSpec::boolean("saturate", saturate_default,
                             fmt::format("overflow and +-Inf become +-{}; otherwise they become {}",
                                         spec.max_finite, spec.has_infinity ? "+-Inf" : "NaN"))};
}

float Ofp8Format::round_one(float x, Rounding mode, std::uint64_t random) const {
  if (std::isnan(x)) return std::copysign(std::numeric_limits<float>::quiet_NaN(), x);
  const double max = spec_.max_finite;
  const double overflow = saturate_            ? max
                          : spec_.has_infinity ? std::numeric_limits<double>::infinity()
                                               : std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(x)) return float(std::copysign(overflow, double(x)));
  if (x == 0) return x;  // keeps the sign of zero
  const double v = x;
  int e = 0;
  (void)std::frexp(v, &e);  // |v| = f * 2^e, f in [0.5, 1): the leading bit is 2^(e-1)
  const int exponent = std::max(e - 1, spec_.min_exponent);
  const int shift = spec_.mantissa_bits - exponent;  // v * 2^shift counts quanta of this binade
  const double k = round_integer(std::ldexp(v, shift), mode, random);
  const double r = std::ldexp(k, -shift);
  if (std::fabs(r) > max) {
    const bool toward_zero = mode == Rounding::toward_zero || (mode == Rounding::up && v < 0) ||
                             (mode == Rounding::down && v > 0);
    return float(std::copysign(toward_zero ? max : overflow, v));
  }
  return float(std::copysign(r, v));  // copysign keeps -0 when a negative value rounds to 0
}

void Ofp8Format::round(std::span<float> values, const RoundingOptions& options) const {
  round_each(values, options,
             [this](float x, Rounding mode, std::uint64_t random) {
               return round_one(x, mode, random);
             });
}

}  // namespace narrow::formats
