#define BOOST_TEST_MODULE ofp8_format
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "run/loader.hpp"
#include "narrow/registry.hpp"
#include "support/ofp8_reference.hpp"
#include "support/plugins.hpp"
#include "support/rounding.hpp"

using namespace narrow;
using narrow::test::deterministic_roundings;
using narrow::test::round_one;
using narrow::test::same_result;

namespace {

Registry& registry() {
  return narrow::test::built_plugins("libnarrow_format_ofp8.so");
}

constexpr double inf = std::numeric_limits<double>::infinity();

using Layout = narrow::test::Ofp8Layout;
using Oracle = narrow::test::Ofp8Reference;
using narrow::test::e4m3_layout;
using narrow::test::e5m2_layout;

double decode(const Layout& l, unsigned code) {
  return narrow::test::ofp8_decode(l, code);
}

/// Inputs that matter: every value, every midpoint and the float32 neighbours of both,
/// at both signs, plus the overflow region.
std::vector<float> probes(const Layout& l) {
  std::vector<double> values;
  for (unsigned c = 0; c < 256; ++c) {
    const double v = decode(l, c);
    if (std::isfinite(v)) values.push_back(v);
  }
  std::sort(values.begin(), values.end());
  const double max = values.back();
  const double top_ulp = std::ldexp(1.0, int(std::ilogb(max)) - l.mantissa_bits);
  values.push_back(max + top_ulp);
  values.push_back(max + top_ulp / 2);
  values.push_back(-max - top_ulp);
  values.push_back(-max - top_ulp / 2);
  std::sort(values.begin(), values.end());
  std::vector<double> centres = values;
  for (std::size_t i = 0; i + 1 < values.size(); ++i)
    centres.push_back((values[i] + values[i + 1]) / 2);
  std::vector<float> out;
  for (double c : centres) {
    const float f = float(c);
    BOOST_REQUIRE(double(f) == c);
    out.push_back(f);
    out.push_back(std::nextafter(f, std::numeric_limits<float>::infinity()));
    out.push_back(std::nextafter(f, -std::numeric_limits<float>::infinity()));
  }
  for (float extra : {1e30f, -1e30f, std::numeric_limits<float>::max(),
                      -std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                      -std::numeric_limits<float>::denorm_min(), 1e-30f, -1e-30f})
    out.push_back(extra);
  return out;
}

void check_against_oracle(const std::string& text, const Layout& l, bool saturate) {
  auto f = create_format(registry(), text);
  const Oracle oracle(l, saturate);
  std::size_t checked = 0;
  for (float x : probes(l))
    for (Rounding mode : deterministic_roundings) {
      const float got = round_one(*f, x, mode);
      const float want = oracle.expect(x, mode);
      if (!same_result(got, want))
        BOOST_ERROR(text << " " << rounding_name(mode) << ": " << std::hexfloat << x << " gave "
                         << got << ", want " << want);
      ++checked;
    }
  // Random float32 bit patterns, all exponents.
  std::mt19937_64 gen(42);
  for (int i = 0; i < 300000; ++i) {
    const float x = std::bit_cast<float>(std::uint32_t(gen()));
    // Concentrate half of them around the format's range.
    const float y = i % 2 ? x : std::ldexp(std::fmod(x, 1.0f), int(gen() % 40) - 20);
    for (Rounding mode : deterministic_roundings) {
      const float got = round_one(*f, y, mode);
      const float want = oracle.expect(y, mode);
      if (!same_result(got, want))
        BOOST_ERROR(text << " " << rounding_name(mode) << ": " << std::hexfloat << y << " gave "
                         << got << ", want " << want);
    }
    checked += 4;
  }
  BOOST_TEST_MESSAGE(text << ": " << checked << " roundings checked");
}

}  // namespace

BOOST_AUTO_TEST_CASE(names_bits_and_registration) {
  auto a = create_format(registry(), "e4m3");
  auto b = create_format(registry(), "e5m2");
  BOOST_TEST(a->name() == "e4m3");
  BOOST_TEST(b->name() == "e5m2");
  BOOST_TEST(a->bits() == 8);
  BOOST_TEST(b->bits() == 8);
  BOOST_TEST(a->roundings().size() == 5u);
  BOOST_CHECK_THROW(create_format(registry(), "e4m3", {{"saturate", "maybe"}}), InputError);
  BOOST_CHECK_THROW(create_format(registry(), "e3m4"), InputError);
}

BOOST_AUTO_TEST_CASE(decoded_tables_are_the_ocp_ones) {
  // Independent facts from the OCP OFP8 specification.
  BOOST_TEST(decode(e4m3_layout, 0x7E) == 448.0);
  BOOST_TEST(std::isnan(decode(e4m3_layout, 0x7F)));
  BOOST_TEST(std::isnan(decode(e4m3_layout, 0xFF)));
  BOOST_TEST(decode(e4m3_layout, 0x01) == std::ldexp(1.0, -9));
  BOOST_TEST(decode(e4m3_layout, 0x08) == std::ldexp(1.0, -6));
  BOOST_TEST(decode(e5m2_layout, 0x7B) == 57344.0);
  BOOST_TEST(decode(e5m2_layout, 0x7C) == inf);
  BOOST_TEST(std::isnan(decode(e5m2_layout, 0x7D)));
  BOOST_TEST(decode(e5m2_layout, 0x01) == std::ldexp(1.0, -16));
  BOOST_TEST(decode(e5m2_layout, 0x04) == std::ldexp(1.0, -14));
}

BOOST_AUTO_TEST_CASE(every_code_round_trips) {
  for (const auto& [text, layout] :
       {std::pair{"e4m3", e4m3_layout}, std::pair{"e5m2", e5m2_layout}}) {
    auto f = create_format(registry(), text);
    for (unsigned c = 0; c < 256; ++c) {
      const double v = decode(layout, c);
      if (std::isnan(v)) continue;
      const float x = float(v);
      for (Rounding mode : all_roundings())
        BOOST_TEST(same_result(round_one(*f, x, mode, 7, c), x), text << " code " << c);
    }
  }
}

BOOST_AUTO_TEST_CASE(e4m3_saturating_matches_oracle) {
  check_against_oracle("e4m3", e4m3_layout, true);
}
BOOST_AUTO_TEST_CASE(e4m3_non_saturating_matches_oracle) {
  check_against_oracle("e4m3(no)", e4m3_layout, false);
}
BOOST_AUTO_TEST_CASE(e5m2_matches_oracle) {
  check_against_oracle("e5m2", e5m2_layout, false);
}
BOOST_AUTO_TEST_CASE(e5m2_saturating_matches_oracle) {
  check_against_oracle("e5m2(yes)", e5m2_layout, true);
}

BOOST_AUTO_TEST_CASE(overflow_nan_and_infinity_rules) {
  const float finf = std::numeric_limits<float>::infinity();
  const float fnan = std::numeric_limits<float>::quiet_NaN();
  auto sat = create_format(registry(), "e4m3");
  auto nosat = create_format(registry(), "e4m3", {{"saturate", "no"}});
  const auto rne = Rounding::nearest_even;
  BOOST_TEST(round_one(*sat, 1e6f, rne) == 448.0f);
  BOOST_TEST(round_one(*sat, -1e6f, rne) == -448.0f);
  BOOST_TEST(round_one(*sat, finf, rne) == 448.0f);
  BOOST_TEST(round_one(*sat, -finf, rne) == -448.0f);
  BOOST_TEST(std::isnan(round_one(*sat, fnan, rne)));
  BOOST_TEST(round_one(*nosat, 464.0f, rne) == 448.0f);  // the tie goes to 448 (even)
  BOOST_TEST(std::isnan(round_one(*nosat, std::nextafter(464.0f, 1e9f), rne)));
  BOOST_TEST(std::isnan(round_one(*nosat, finf, rne)));
  BOOST_TEST(std::isnan(round_one(*nosat, -1e6f, rne)));
  BOOST_TEST(round_one(*nosat, 1e6f, Rounding::toward_zero) == 448.0f);
  BOOST_TEST(round_one(*nosat, 449.0f, Rounding::down) == 448.0f);
  BOOST_TEST(std::isnan(round_one(*nosat, 449.0f, Rounding::up)));
  BOOST_TEST(round_one(*nosat, -449.0f, Rounding::up) == -448.0f);

  auto e5 = create_format(registry(), "e5m2");
  auto e5sat = create_format(registry(), "e5m2", {{"saturate", "yes"}});
  BOOST_TEST(round_one(*e5, 61440.0f, rne) == finf);  // the midpoint overflows (IEEE)
  BOOST_TEST(round_one(*e5, std::nextafter(61440.0f, 0.0f), rne) == 57344.0f);
  BOOST_TEST(round_one(*e5, -finf, rne) == -finf);
  BOOST_TEST(round_one(*e5, 1e6f, Rounding::toward_zero) == 57344.0f);
  BOOST_TEST(round_one(*e5, -1e6f, Rounding::down) == -finf);
  BOOST_TEST(round_one(*e5sat, 61440.0f, rne) == 57344.0f);
  BOOST_TEST(round_one(*e5sat, finf, rne) == 57344.0f);
  BOOST_TEST(round_one(*e5sat, -finf, rne) == -57344.0f);
  BOOST_TEST(std::isnan(round_one(*e5sat, fnan, rne)));
}

BOOST_AUTO_TEST_CASE(subnormals_and_signed_zero) {
  auto e4 = create_format(registry(), "e4m3");
  auto e5 = create_format(registry(), "e5m2");
  const auto rne = Rounding::nearest_even;
  BOOST_TEST(round_one(*e4, std::ldexp(1.0f, -9), rne) == std::ldexp(1.0f, -9));
  BOOST_TEST(same_result(round_one(*e4, std::ldexp(1.0f, -10), rne), 0.0f));  // tie to even: 0
  BOOST_TEST(same_result(round_one(*e4, -std::ldexp(1.0f, -10), rne), -0.0f));
  BOOST_TEST(round_one(*e4, std::ldexp(3.0f, -10), rne) == std::ldexp(1.0f, -8));  // tie: even
  BOOST_TEST(round_one(*e4, std::ldexp(1.0f, -30), Rounding::up) == std::ldexp(1.0f, -9));
  BOOST_TEST(same_result(round_one(*e4, -std::ldexp(1.0f, -30), Rounding::up), -0.0f));
  BOOST_TEST(round_one(*e5, std::ldexp(1.0f, -16), rne) == std::ldexp(1.0f, -16));
  BOOST_TEST(round_one(*e5, std::ldexp(1.5f, -17), rne) == std::ldexp(1.0f, -16));
  BOOST_TEST(same_result(round_one(*e5, -0.0f, Rounding::up), -0.0f));
  BOOST_TEST(same_result(round_one(*e5, 0.0f, Rounding::down), 0.0f));
}

BOOST_AUTO_TEST_CASE(idempotent_and_monotonic) {
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.0f, 100.0f);
  std::vector<float> xs(20000);
  for (auto& x : xs) x = normal(gen) * std::ldexp(1.0f, int(gen() % 24) - 12);
  std::sort(xs.begin(), xs.end());
  for (const char* text : {"e4m3", "e4m3(no)", "e5m2", "e5m2(yes)"}) {
    auto f = create_format(registry(), text);
    for (Rounding mode : deterministic_roundings) {
      auto once = xs;
      f->round(once, {mode});
      auto twice = once;
      f->round(twice, {mode});
      for (std::size_t i = 0; i < xs.size(); ++i) BOOST_TEST_REQUIRE(same_result(once[i], twice[i]));
      float previous = -std::numeric_limits<float>::infinity();
      for (float v : once) {
        if (std::isnan(v)) continue;
        BOOST_TEST_REQUIRE(v >= previous, text << " " << rounding_name(mode));
        previous = v;
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(stochastic_rounding_is_seeded_unbiased_and_split_invariant) {
  auto f = create_format(registry(), "e4m3");
  // 1.03125 is a quarter of the way from 1 to 1.125.
  std::vector<float> xs(100000, 1.03125f);
  auto a = xs, b = xs;
  f->round(a, {Rounding::stochastic, 11, 0});
  f->round(std::span<float>(b).first(12345), {Rounding::stochastic, 11, 0});
  f->round(std::span<float>(b).subspan(12345), {Rounding::stochastic, 11, 12345});
  BOOST_TEST(a == b);
  std::size_t ups = 0;
  for (float v : a) {
    BOOST_TEST_REQUIRE((v == 1.0f || v == 1.125f));
    ups += v == 1.125f;
  }
  BOOST_TEST(std::abs(double(ups) / double(xs.size()) - 0.25) < 0.01);
  auto c = xs;
  f->round(c, {Rounding::stochastic, 12, 0});
  BOOST_TEST(a != c);
  // Every stochastic result is one of the two neighbours.
  const Oracle oracle(e4m3_layout, true);
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> u(-500.0f, 500.0f);
  for (int i = 0; i < 20000; ++i) {
    const float x = u(gen);
    const float r = round_one(*f, x, Rounding::stochastic, 1, std::uint64_t(i));
    const float lo = oracle.expect(x, Rounding::down), hi = oracle.expect(x, Rounding::up);
    BOOST_TEST_REQUIRE((same_result(r, lo) || same_result(r, hi)));
  }
}
