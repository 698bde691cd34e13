#pragma once
// Two's-complement fixed point Q(m,n): a sign bit, m integer bits and n fractional bits, so
// 1 + m + n bits holding k * 2^-n for the integers k in [-2^(m+n), 2^(m+n) - 1].
#include <cstdint>
#include <span>
#include <string>

#include "narrow/format.hpp"
#include "narrow/parameters.hpp"

namespace narrow::formats {

class FixedFormat final : public NumberFormat {
 public:
  /// Throws InputError unless 0 <= m, n <= 31 and 1 + m + n <= 32.
  FixedFormat(int m, int n);
  std::string name() const override;
  int bits() const override { return 1 + m_ + n_; }
  void round(std::span<float> values, const RoundingOptions& options = {}) const override;

  /// Rounds one value; `random` is the 64 random bits used by stochastic rounding.
  float round_one(float x, Rounding mode, std::uint64_t random) const;
  /// The smallest and largest value; the largest is the greatest float32 not above
  /// 2^m - 2^-n (the two differ only when m + n > 24).
  double lowest() const;
  double highest() const;

  static ParamSchema schema();

 private:
  int m_, n_;
  double k_min_, k_max_;  // the integer range of k, k_max_ limited to what float32 holds
};

}  // namespace narrow::formats
