#pragma once
// The OCP 8-bit floating-point formats (OCP 8-bit Floating Point Specification, OFP8, rev. 1.0):
// E4M3 (no infinities, one NaN per sign, max 448) and E5M2 (IEEE-like, max 57344).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "narrow/format.hpp"
#include "narrow/parameters.hpp"

namespace narrow::formats {

/// What a minifloat looks like, enough to round to it.
struct MinifloatSpec {
  std::string name;         // "e4m3", "e5m2"
  int mantissa_bits = 3;    // t: stored significand bits
  int min_exponent = -6;    // exponent of the smallest normal, 1 - bias
  double max_finite = 448;  // largest finite magnitude
  bool has_infinity = false;
};

/// E4M3 and E5M2. Rounds with an unbounded exponent range first, then applies the overflow
/// rule: a result above max_finite becomes ±max_finite when the mode rounds toward zero for
/// that sign or when saturating; otherwise ±Inf (E5M2) or NaN (E4M3).
class Ofp8Format final : public NumberFormat {
 public:
  Ofp8Format(MinifloatSpec spec, bool saturate);
  std::string name() const override { return spec_.name; }
  int bits() const override { return 8; }
  void round(std::span<float> values, const RoundingOptions& options = {}) const override;

  bool saturating() const { return saturate_; }
  /// Rounds one value; `random` is the 64 random bits used by stochastic rounding.
  float round_one(float x, Rounding mode, std::uint64_t random) const;

  static MinifloatSpec e4m3();
  static MinifloatSpec e5m2();
  static ParamSchema schema(const MinifloatSpec& spec, bool saturate_default);

 private:
  MinifloatSpec spec_;
  bool saturate_;
};

}  // namespace narrow::formats
