#pragma once
// What the number-format tests share: comparing results bit for bit, rounding one value, and
// the deterministic rounding modes.
#include <bit>
#include <cmath>
#include <cstdint>
#include <span>

#include "narrow/format.hpp"

namespace narrow::test {

/// Raw bits of a float.
inline std::uint32_t bits_of(float f) {
  return std::bit_cast<std::uint32_t>(f);
}

/// Same result: equal bits (sign of zero included), or both NaN.
inline bool same_result(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || bits_of(a) == bits_of(b);
}

/// `x` rounded by `f` alone (value `offset` of a stochastic stream seeded by `seed`).
inline float round_one(const NumberFormat& f, float x, Rounding mode, std::uint64_t seed = 0,
                       std::uint64_t offset = 0) {
  f.round(std::span<float>(&x, 1), RoundingOptions{mode, seed, offset});
  return x;
}

/// Every rounding mode but stochastic.
inline constexpr Rounding deterministic_roundings[] = {Rounding::nearest_even,
                                                       Rounding::toward_zero, Rounding::up,
                                                       Rounding::down};

}  // namespace narrow::test
