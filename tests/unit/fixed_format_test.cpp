#define BOOST_TEST_MODULE fixed_format
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "run/loader.hpp"
#include "narrow/registry.hpp"
#include "support/plugins.hpp"
#include "support/rounding.hpp"

using namespace narrow;
using narrow::test::deterministic_roundings;
using narrow::test::round_one;

namespace {

Registry& registry() {
  return narrow::test::built_plugins("libnarrow_format_fixed.so");
}

bool same(float a, float b) {
  return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}


/// The expected Q(m,n) result by integer arithmetic on the grid: x is exactly k/2^n + r with
/// the remainder r compared in long double (x * 2^n is exact there).
float expect(int m, int n, float x, Rounding mode) {
  if (std::isnan(x)) return 0.0f;
  const long double lo = -std::ldexp(1.0L, m + n);
  const long double hi = std::ldexp(1.0L, m + n) - 1;
  long double k;
  if (std::isinf(x)) {
    k = x > 0 ? hi : lo;
  } else {
    const long double s = std::ldexp(static_cast<long double>(x), n);
    const long double f = std::floor(s), c = std::ceil(s);
    switch (mode) {
      case Rounding::nearest_even:
        if (s - f < c - s)
          k = f;
        else if (s - f > c - s)
          k = c;
        else
          k = std::fmod(f, 2.0L) == 0 ? f : c;
        break;
      case Rounding::toward_zero:
        k = std::trunc(s);
        break;
      case Rounding::up:
        k = c;
        break;
      default:
        k = f;
        break;
    }
    k = std::min(std::max(k, lo), hi);
  }
  return float(std::ldexp(k, -n)) + 0.0f;  // +0.0f turns -0 into +0
}

}  // namespace

BOOST_AUTO_TEST_CASE(names_bits_and_parameters) {
  auto f = create_format(registry(), "fixed(3,4)");
  BOOST_TEST(f->name() == "fixed(3,4)");
  BOOST_TEST(f->bits() == 8);
  BOOST_TEST(create_format(registry(), "fixed")->name() == "fixed(3,4)");  // the defaults
  BOOST_TEST(create_format(registry(), "fixed(0,15)")->bits() == 16);
  BOOST_TEST(create_format(registry(), "fixed(15,16)")->bits() == 32);
  BOOST_TEST(create_format(registry(), "fixed", {{"m", "7"}, {"n", "0"}})->name() == "fixed(7,0)");
  BOOST_CHECK_THROW(create_format(registry(), "fixed(16,16)"), InputError);
  BOOST_CHECK_THROW(create_format(registry(), "fixed(32,0)"), InputError);
  BOOST_CHECK_THROW(create_format(registry(), "fixed(-1,4)"), InputError);
  BOOST_CHECK_THROW(create_format(registry(), "fixed(1,2,3)"), InputError);
}

BOOST_AUTO_TEST_CASE(q3_4_grid_midpoints_and_neighbours_all_modes) {
  auto f = create_format(registry(), "fixed(3,4)");
  // Every grid value k/16 for k in [-128, 127], and every midpoint, with float neighbours.
  std::vector<float> xs;
  for (int k2 = -2 * 128 - 20; k2 <= 2 * 127 + 20; ++k2) {
    const float c = float(k2) / 32.0f;
    xs.push_back(c);
    xs.push_back(std::nextafter(c, 1e9f));
    xs.push_back(std::nextafter(c, -1e9f));
  }
  for (int k = -128; k <= 127; ++k)
    for (Rounding mode : all_roundings())
      BOOST_TEST(round_one(*f, float(k) / 16.0f, mode, 3, std::uint64_t(k + 500)) ==
                 float(k) / 16.0f);
  for (float x : xs)
    for (Rounding mode : deterministic_roundings)
      BOOST_TEST(same(round_one(*f, x, mode), expect(3, 4, x, mode)),
                 std::hexfloat << x << " " << rounding_name(mode));
  // Known cases.
  BOOST_TEST(round_one(*f, 0.03125f, Rounding::nearest_even) == 0.0f);    // tie to 0 (even)
  BOOST_TEST(round_one(*f, 0.09375f, Rounding::nearest_even) == 0.125f);  // tie to 2/16
  BOOST_TEST(round_one(*f, -0.03125f, Rounding::toward_zero) == 0.0f);
  BOOST_TEST(round_one(*f, -0.03125f, Rounding::down) == -0.0625f);
  BOOST_TEST(round_one(*f, 7.9375f, Rounding::nearest_even) == 7.9375f);
  BOOST_TEST(round_one(*f, 7.97f, Rounding::nearest_even) == 7.9375f);  // saturates
  BOOST_TEST(round_one(*f, 7.97f, Rounding::up) == 7.9375f);
  BOOST_TEST(round_one(*f, -8.0f, Rounding::nearest_even) == -8.0f);
  BOOST_TEST(round_one(*f, -8.01f, Rounding::down) == -8.0f);
}

BOOST_AUTO_TEST_CASE(saturation_nan_infinity_and_zero) {
  const float finf = std::numeric_limits<float>::infinity();
  auto f = create_format(registry(), "fixed(3,4)");
  for (Rounding mode : all_roundings()) {
    BOOST_TEST(round_one(*f, 1e30f, mode) == 7.9375f);
    BOOST_TEST(round_one(*f, -1e30f, mode) == -8.0f);
    BOOST_TEST(round_one(*f, finf, mode) == 7.9375f);
    BOOST_TEST(round_one(*f, -finf, mode) == -8.0f);
    BOOST_TEST(same(round_one(*f, std::numeric_limits<float>::quiet_NaN(), mode), 0.0f));
    BOOST_TEST(same(round_one(*f, -0.0f, mode), 0.0f));  // one zero in two's complement
  }
}

BOOST_AUTO_TEST_CASE(other_formats_match_the_integer_reference) {
  std::mt19937_64 gen(9);
  for (auto [m, n] :
       {std::pair{0, 7}, std::pair{7, 0}, std::pair{1, 14}, std::pair{8, 8}, std::pair{0, 0},
        std::pair{15, 16}, std::pair{0, 31}, std::pair{31, 0}, std::pair{20, 11}}) {
    auto f =
        create_format(registry(), "fixed(" + std::to_string(m) + "," + std::to_string(n) + ")");
    BOOST_TEST(f->bits() == 1 + m + n);
    for (int i = 0; i < 100000; ++i) {
      // Around the format's range and resolution, and arbitrary bit patterns.
      float x;
      if (i % 3 == 0)
        x = std::bit_cast<float>(std::uint32_t(gen()));
      else
        x = std::ldexp(float(std::int32_t(gen())) / 2147483648.0f, int(gen() % 40) - n + m - 20);
      if (std::isnan(x)) continue;
      for (Rounding mode : deterministic_roundings) {
        const float got = round_one(*f, x, mode);
        float want = expect(m, n, x, mode);
        // Above 24 bits the largest value 2^m - 2^-n is not a float32: narrow saturates to the
        // largest float32 below it.
        if (m + n > 24 && want >= std::ldexp(1.0f, m))
          want = std::nextafter(std::ldexp(1.0f, m), 0.0f);
        BOOST_TEST_REQUIRE(same(got, want), "fixed(" << m << "," << n << ") " << rounding_name(mode)
                                                     << " " << std::hexfloat << x << " gave " << got
                                                     << " want " << want);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(stochastic_rounding) {
  auto f = create_format(registry(), "fixed(3,4)");
  std::vector<float> xs(100000, 0.0625f * 0.75f);  // three quarters of the way to 1/16
  auto a = xs, b = xs;
  f->round(a, {Rounding::stochastic, 5, 100});
  f->round(std::span<float>(b).first(777), {Rounding::stochastic, 5, 100});
  f->round(std::span<float>(b).subspan(777), {Rounding::stochastic, 5, 877});
  BOOST_TEST(a == b);
  std::size_t ups = 0;
  for (float v : a) {
    BOOST_TEST_REQUIRE((v == 0.0f || v == 0.0625f));
    ups += v == 0.0625f;
  }
  BOOST_TEST(std::abs(double(ups) / double(a.size()) - 0.75) < 0.01);
  // Saturation holds under stochastic rounding too.
  std::vector<float> big(1000, 7.99f);
  f->round(big, {Rounding::stochastic, 1, 0});
  for (float v : big) BOOST_TEST_REQUIRE(v == 7.9375f);
}
