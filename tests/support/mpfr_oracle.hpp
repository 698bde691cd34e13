#pragma once
// Exact oracles for IEEE-754-style types T(w,t) on float32 inputs (w exponent bits 1..8, t
// trailing significand bits 1..23; bias 2^(w-1) - 1, emax = bias, emin = 1 - emax, precision
// t + 1, subnormals, signed zeros, infinities and NaN):
//
// - oracle_round: MPFR, the reference of record. The float32 input is rounded to precision t+1
//   in the type's exponent range (mpfr_set_flt, mpfr_check_range), then to the subnormal
//   grid by mpfr_subnormalize with the ternary value of the first rounding (no double
//   rounding), and converted back to float32 exactly.
// - reference_round: the same function written plainly in double (frexp, ldexp, floor),
//   exact because every float32 and every scaled value fits a double's 53 bits. Fast enough
//   for exhaustive runs over all 2^32 inputs; validated against oracle_round where it is used.
//
// Both take an IeeeSpec: the type plus the options of the ieee plugin (saturate,
// flush_subnormals), and optionally an extended range as OCP FP8 e4m3 has (max finite value
// and what overflow gives, set explicitly).
//
// T(1,t): the IEEE formulas give emax = 0 < emin = 1, so the type has no normal numbers. Its
// exponent field is 0 (subnormals, exponent emin = 1: the values k * 2^(1-t), k = 0 ..
// 2^t - 1, largest 2 - 2^(1-t)) or 1 (Inf and NaN). MPFR describes exactly that with
// precision t+1, exponents up to emax + 1 = 1 (values below 2) and subnormalisation below
// 2^emin, which covers the whole range.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include <mpfr.h>

#include "narrow/format.hpp"
#include "rounding.hpp"

namespace narrow::test {

struct IeeeSpec {
  int w = 5, t = 10;
  bool saturate = false;          // overflow gives +-max instead of +-Inf
  bool flush_subnormals = false;  // results below 2^emin become +-0
  // Extended formats (OCP e4m3): when max_override > 0 it replaces the largest finite value
  // (values in (max, threshold) still round on the t-bit grid of the top binade), and
  // overflow gives overflow_value (NaN for e4m3) unless saturate.
  double max_override = 0;
  bool overflow_is_nan = false;

  int bias() const { return (1 << (w - 1)) - 1; }
  int emax() const { return bias(); }
  int emin() const { return 1 - emax(); }
  /// The exponent of the top binade (emin when w = 1: every value is subnormal).
  int top() const { return emax() > emin() ? emax() : emin(); }
  double max_finite() const {
    if (max_override > 0) return max_override;
    return std::ldexp(1.0, emax() + 1) - std::ldexp(1.0, top() - t);
  }
  double min_normal() const { return std::ldexp(1.0, emin()); }
  double min_subnormal() const { return std::ldexp(1.0, emin() - t); }
};

/// True when this mode rounds the magnitude of a value of this sign away from zero.
inline bool rounds_away(Rounding mode, bool negative) {
  return (mode == Rounding::up && !negative) || (mode == Rounding::down && negative);
}

/// What overflow of a value of this sign gives under `mode`: +-Inf or +-max (IEEE 754 7.4:
/// nearest gives Inf; directed modes give Inf only when rounding away from zero).
inline double overflow_result(const IeeeSpec& s, Rounding mode, bool negative) {
  double v;
  const bool to_inf =
      mode == Rounding::nearest_even || mode == Rounding::stochastic || rounds_away(mode, negative);
  if (!to_inf || s.saturate)
    v = s.max_finite();
  else if (s.overflow_is_nan)
    v = std::numeric_limits<double>::quiet_NaN();
  else
    v = std::numeric_limits<double>::infinity();
  return negative ? -v : v;
}

/// Applies flush_subnormals and the sign of the input to a rounded value.
inline float finish(const IeeeSpec& s, double r, bool negative) {
  if (s.flush_subnormals && std::fabs(r) < s.min_normal()) r = 0;
  // exact: every value of the type is a float32; the sign is the input's (zeros included)
  return static_cast<float>(std::copysign(r, negative ? -1.0 : 1.0));
}

inline mpfr_rnd_t mpfr_mode(Rounding mode) {
  switch (mode) {
    case Rounding::toward_zero:
      return MPFR_RNDZ;
    case Rounding::up:
      return MPFR_RNDU;
    case Rounding::down:
      return MPFR_RNDD;
    default:
      return MPFR_RNDN;
  }
}

/// The MPFR oracle for one float32 value and a deterministic mode.
inline float oracle_round(float x, const IeeeSpec& s, Rounding mode) {
  if (std::isnan(x)) return std::numeric_limits<float>::quiet_NaN();
  if (std::isinf(x)) return x;
  const bool negative = std::signbit(x);
  const mpfr_exp_t old_emin = mpfr_get_emin(), old_emax = mpfr_get_emax();
  // MPFR's exponents are those of significands in [0.5, 1): its smallest positive value is
  // 2^(emin_mpfr - 1) = 2^(emin - t), its largest below 2^emax_mpfr = 2^(emax + 1).
  // An extended top (e4m3) is handled by the overflow check below with a wider range.
  const int emax_mpfr = s.max_override > 0 ? s.emax() + 3 : s.emax() + 1;
  mpfr_set_emin(s.emin() - s.t + 1);
  mpfr_set_emax(emax_mpfr);
  mpfr_t r;
  mpfr_init2(r, s.t + 1);
  const mpfr_rnd_t rnd = mpfr_mode(mode);
  int inexact = mpfr_set_flt(r, x, rnd);
  inexact = mpfr_check_range(r, inexact, rnd);
  inexact = mpfr_subnormalize(r, inexact, rnd);
  (void)inexact;
  mpfr_set_emin(old_emin);
  mpfr_set_emax(old_emax);
  double v = mpfr_get_d(r, MPFR_RNDN);  // exact
  mpfr_clear(r);
  // Overflow per mode: MPFR gives Inf or its own largest value (at precision t+1, which for
  // T(1,t) is not on the subnormal grid until subnormalised; either way it is above max or
  // infinite exactly when the result overflowed).
  if (std::isinf(v) || std::fabs(v) > s.max_finite()) v = overflow_result(s, mode, negative);
  return finish(s, v, negative);
}

/// The exact double-based reference for any mode but stochastic.
inline float reference_round(float x, const IeeeSpec& s, Rounding mode) {
  if (std::isnan(x)) return std::numeric_limits<float>::quiet_NaN();
  if (std::isinf(x)) return x;
  const bool negative = std::signbit(x);
  const double a = std::fabs(static_cast<double>(x));
  if (a == 0) return finish(s, 0, negative);
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1): the IEEE exponent is e - 1
  const int qe = (e - 1 > s.emin() ? e - 1 : s.emin()) - s.t;  // quantum 2^qe at a
  const double scaled = std::ldexp(a, -qe);                    // exact
  const double lo = std::floor(scaled);
  const double frac = scaled - lo;
  double k = lo;
  switch (mode) {
    case Rounding::toward_zero:
      break;
    case Rounding::up:
    case Rounding::down:
      if (frac > 0 && rounds_away(mode, negative)) k = lo + 1;
      break;
    default:
      if (frac > 0.5 || (frac == 0.5 && std::fmod(lo, 2.0) != 0)) k = lo + 1;
      break;
  }
  double v = std::ldexp(k, qe);
  if (v > s.max_finite()) v = std::fabs(overflow_result(s, mode, negative));
  if (std::isnan(v)) return std::numeric_limits<float>::quiet_NaN();
  return finish(s, v, negative);
}

}  // namespace narrow::test
