#pragma once
// IEEE-754-style binary formats T(w,t): w exponent bits, t trailing significand bits, stored
// in 1 + w + t bits, with subnormals, signed zeros, infinities and NaN (Scheidegger et al.
// 2019, section 3.2). Rounding emulates them on float32 data, bit-exactly.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "narrow/format.hpp"
#include "narrow/parameters.hpp"

namespace narrow::formats {

/// The constants of one type T(w,t), derived once.
struct IeeeType {
  int w = 5;                       // exponent bits, 1..8
  int t = 10;                      // trailing significand bits, 1..23
  int bias = 0;                    // 2^(w-1) - 1
  int emax = 0;                    // = bias
  int emin = 0;                    // 1 - emax (for w = 1: 1, above emax: every value is subnormal)
  std::uint32_t max_bits = 0;      // float32 bits of the largest finite value
  std::uint32_t quantum_bits = 0;  // float32 bits of the smallest subnormal 2^(emin - t)
  std::uint32_t min_normal_bits = 0;  // float32 bits of 2^emin (above max_bits when w = 1)
  explicit IeeeType(int w_, int t_);
};

class IeeeFormat final : public NumberFormat {
 public:
  /// w, t from the parameters unless the alias fixes them (w_fixed > 0).
  IeeeFormat(const Parameters& p, std::string alias = {}, int w_fixed = 0, int t_fixed = 0);
  IeeeFormat(int w, int t, bool saturate = false, bool flush_subnormals = false,
             std::string alias = {});

  std::string name() const override;
  int bits() const override { return 1 + type_.w + type_.t; }
  void round(std::span<float> values, const RoundingOptions& options = {}) const override;

  const IeeeType& type() const { return type_; }
  bool saturate() const { return saturate_; }
  bool flush_subnormals() const { return flush_; }

  /// The schema of `ieee` (w, t, saturate, flush_subnormals) and of the aliases (options only).
  static ParamSchema schema();
  static ParamSchema alias_schema();

  /// The loop round() runs: "avx2" (the CPU has AVX2) or "baseline" (x86-64 without AVX2,
  /// other CPUs, or NARROW_IEEE_NO_AVX2=1). Throws InputError for a bad NARROW_IEEE_NO_AVX2.
  /// Also exported as the C function narrow_format_ieee_rounding_loop(), for tests.
  static const char* rounding_loop();

 private:
  IeeeType type_;
  bool saturate_ = false;
  bool flush_ = false;
  std::string alias_;
};

}  // namespace narrow::formats
