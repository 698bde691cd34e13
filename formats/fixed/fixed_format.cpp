#include "fixed_format.hpp"

#include <cmath>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/random.hpp"

namespace narrow::formats {

FixedFormat::FixedFormat(int m, int n) : m_(m), n_(n) {
  if (m < 0 || m > 31 || n < 0 || n > 31)
    throw InputError(
        fmt::format("fixed(m,n) needs 0 <= m <= 31 and 0 <= n <= 31, got m={} n={}", m, n));
  if (1 + m + n > 32)
    throw InputError(
        fmt::format("fixed({},{}) needs {} bits; 1 + m + n must be at most 32", m, n, 1 + m + n));
  const int magnitude_bits = m + n;  // k in [-2^(m+n), 2^(m+n) - 1]
  k_min_ = -std::ldexp(1.0, magnitude_bits);
  // 2^(m+n) - 1 has m+n significant bits; float32 holds 24, so above 24 the largest value
  // that is a float32 is 2^(m+n) - 2^(m+n-24).
  k_max_ = std::ldexp(1.0, magnitude_bits) -
           (magnitude_bits <= 24 ? 1.0 : std::ldexp(1.0, magnitude_bits - 24));
}

std::string FixedFormat::name() const {
  return fmt::format("fixed({},{})", m_, n_);
}

double FixedFormat::lowest() const {
  return std::ldexp(k_min_, -n_);
}

double FixedFormat::highest() const {
  return std::ldexp(k_max_, -n_);
}

ParamSchema FixedFormat::schema() {
  return {ParamSpec::integer("m", 3, 0, 31, "integer bits, not counting the sign bit"),
          ParamSpec::integer("n", 4, 0, 31, "fractional bits (1 + m + n <= 32)")};
}

float FixedFormat::round_one(float x, Rounding mode, std::uint64_t random) const {
  if (std::isnan(x)) return 0.0f;  // fixed point has no NaN: it becomes 0
  double k = 0;
  if (std::isinf(x)) {
    k = x > 0 ? k_max_ : k_min_;
  } else {
    k = round_integer(std::ldexp(double(x), n_), mode, random);  // x * 2^n is exact
    k = std::fmin(std::fmax(k, k_min_), k_max_);
  }
  if (k == 0) return 0.0f;           // two's complement has one zero: +0
  return float(std::ldexp(k, -n_));  // exact: k fits in float32's significand (see k_max_)
}

void FixedFormat::round(std::span<float> values, const RoundingOptions& options) const {
  round_each(values, options,
             [this](float x, Rounding mode, std::uint64_t random) {
               return round_one(x, mode, random);
             });
}

}  // namespace narrow::formats
