#pragma once
// The OCP 8-bit floating-point formats (OCP 8-bit Floating Point Specification, OFP8, rev.
// 1.0) written from the specification alone, independently of the ofp8 plugin: the value of
// every code, and the rounding of a float32 value to the nearest codes under each
// deterministic mode. Used by the ofp8 unit test and by narrow_bench_format_exhaustive.
//
// From the specification:
// - E4M3: 1 sign, 4 exponent and 3 mantissa bits, bias 7. Exponent 1111 holds normal
//   numbers except S.1111.111, the only NaN; there are no infinities. Largest 448.
// - E5M2: 1 sign, 5 exponent and 2 mantissa bits, bias 15, IEEE 754 conventions: exponent
//   11111 is Inf (mantissa 00) or NaN. Largest 57344.
// - Conversion rounds to nearest, ties to even. Out-of-range values and infinities become
//   +-max in saturation mode; otherwise NaN for E4M3 (it has no infinity) and +-Inf for E5M2
//   (infinite inputs stay infinite). NaN stays NaN.
// Directed modes follow IEEE 754 section 7.4 for overflow: a mode that rounds the magnitude
// toward zero gives +-max, the others overflow as above.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "narrow/format.hpp"

namespace narrow::test {

/// The bit layout of an 8-bit float.
struct Ofp8Layout {
  int exponent_bits, mantissa_bits, bias;
  bool ieee;  // e5m2: exponent all ones is Inf/NaN; e4m3: only S.1111.111 is NaN
};
inline constexpr Ofp8Layout e4m3_layout{4, 3, 7, false};
inline constexpr Ofp8Layout e5m2_layout{5, 2, 15, true};

/// The exact value of one code (NaN for the NaN codes, +-Inf for E5M2's infinities).
inline double ofp8_decode(const Ofp8Layout& l, unsigned code) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  const bool negative = code & 0x80;
  const unsigned e = (code >> l.mantissa_bits) & ((1u << l.exponent_bits) - 1);
  const unsigned m = code & ((1u << l.mantissa_bits) - 1);
  const unsigned e_all = (1u << l.exponent_bits) - 1;
  double v;
  if (l.ieee && e == e_all) {
    v = m == 0 ? inf : std::numeric_limits<double>::quiet_NaN();
  } else if (!l.ieee && e == e_all && m == (1u << l.mantissa_bits) - 1) {
    v = std::numeric_limits<double>::quiet_NaN();
  } else if (e == 0) {
    v = std::ldexp(double(m), 1 - l.bias - l.mantissa_bits);
  } else {
    v = std::ldexp(double(m + (1u << l.mantissa_bits)), int(e) - l.bias - l.mantissa_bits);
  }
  return negative ? -v : v;
}

/// Rounding to an 8-bit float by its table of values. The finite values in increasing order
/// (one zero), each with its code's last bit (for ties), and the "next after max" of an
/// unbounded exponent range at both ends, marked as overflow.
struct Ofp8Reference {
  struct Point {
    double value;
    bool even;
    bool overflow;
  };
  std::vector<Point> points;
  double max = 0;
  bool saturate = false;
  bool has_inf = false;

  Ofp8Reference(const Ofp8Layout& l, bool sat) : saturate(sat), has_inf(l.ieee) {
    for (unsigned c = 0; c < 256; ++c) {
      const double v = ofp8_decode(l, c);
      if (!std::isfinite(v) || (v == 0 && c != 0)) continue;
      points.push_back({v, (c & 1) == 0, false});
      max = std::max(max, v);
    }
    std::sort(points.begin(), points.end(),
              [](const Point& a, const Point& b) { return a.value < b.value; });
    // Above max, an unbounded exponent range would have max + ulp(max); its code is the one
    // after max's code (e4m3: S.1111.111, odd; e5m2: S.11111.00, even).
    const double top_ulp = std::ldexp(1.0, int(std::ilogb(max)) - l.mantissa_bits);
    const bool next_even = !points.back().even;
    points.insert(points.begin(), {-(max + top_ulp), next_even, true});
    points.push_back({max + top_ulp, next_even, true});
  }

  double overflow_value(double sign) const {
    if (saturate) return std::copysign(max, sign);
    return has_inf ? std::copysign(std::numeric_limits<double>::infinity(), sign)
                   : std::numeric_limits<double>::quiet_NaN();
  }

  /// The two candidates around x (equal when x is a value).
  void neighbours(double x, Point& lo, Point& hi) const {
    auto it = std::lower_bound(points.begin(), points.end(), x,
                               [](const Point& p, double v) { return p.value < v; });
    if (it != points.end() && it->value == x) {
      lo = hi = *it;
    } else {
      hi = *it;
      lo = *(it - 1);
    }
  }

  /// What x rounds to under a deterministic mode (std::invalid_argument for stochastic).
  float expect(float xf, Rounding mode) const {
    const double x = xf;
    if (std::isnan(x)) return xf;
    if (std::isinf(x)) return float(overflow_value(x));
    if (x == 0) return xf;
    const bool toward_zero = mode == Rounding::toward_zero || (mode == Rounding::up && x < 0) ||
                             (mode == Rounding::down && x > 0);
    if (std::fabs(x) >= points.back().value)
      return float(toward_zero ? std::copysign(max, x) : overflow_value(x));
    Point lo, hi;
    neighbours(x, lo, hi);
    Point r = lo;
    if (lo.value == hi.value) {
      r = lo;
    } else {
      switch (mode) {
        case Rounding::nearest_even: {
          const double mid = (lo.value + hi.value) / 2;  // exact: few significant bits
          r = x < mid ? lo : x > mid ? hi : (lo.even ? lo : hi);
          break;
        }
        case Rounding::toward_zero:
          r = x > 0 ? lo : hi;
          break;
        case Rounding::up:
          r = hi;
          break;
        case Rounding::down:
          r = lo;
          break;
        case Rounding::stochastic:
          throw std::invalid_argument("no single expectation for stochastic rounding");
      }
    }
    if (r.overflow) return float(overflow_value(x));
    if (r.value == 0) return std::copysign(0.0f, xf);
    return float(r.value);
  }
};

}  // namespace narrow::test
