// The ieee format plugin against the MPFR oracle: every type T(w,t), w in 1..8, t in 1..23,
// every deterministic rounding mode, bit for bit (sign of zero included); stochastic
// rounding's neighbours, frequencies, seeding and chunking; the options; idempotence and
// monotonicity.
#define BOOST_TEST_MODULE ieee_format
#include <dlfcn.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <boost/test/unit_test.hpp>

#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "run/loader.hpp"
#include "narrow/random.hpp"
#include "narrow/registry.hpp"
#include "support/mpfr_oracle.hpp"
#include "support/plugins.hpp"

namespace {

using narrow::Rounding;
using narrow::RoundingOptions;
using narrow::test::bits_of;
using narrow::test::deterministic_roundings;
using narrow::test::IeeeSpec;
using narrow::test::same_result;

narrow::Registry& registry() {
  return narrow::test::built_plugins();
}

std::unique_ptr<narrow::NumberFormat> make(int w, int t, bool saturate = false,
                                           bool flush = false) {
  return narrow::create_format(
      registry(), fmt::format("ieee({},{})", w, t),
      {{"saturate", saturate ? "true" : "false"}, {"flush_subnormals", flush ? "true" : "false"}});
}

float from_bits(std::uint32_t b) {
  return std::bit_cast<float>(b);
}


// The nonnegative finite values of T(w,t) in increasing order, by index j in [0, count).
struct Grid {
  int w, t;
  std::uint64_t count() const { return ((std::uint64_t(1) << w) - 1) << t; }
  double value(std::uint64_t j) const {
    const int bias = (1 << (w - 1)) - 1;
    const std::uint64_t field = j >> t, frac = j & ((std::uint64_t(1) << t) - 1);
    if (field == 0) return std::ldexp(double(frac), 1 - bias - t);
    return std::ldexp(double((std::uint64_t(1) << t) + frac), int(field) - bias - t);
  }
  // The value after j: the next one, or 2^(emax+1) after the largest.
  double next(std::uint64_t j) const {
    return j + 1 < count() ? value(j + 1) : std::ldexp(1.0, (1 << (w - 1)));
  }
};

void add_around(std::vector<float>& out, double v, std::initializer_list<int> offsets) {
  const float f = static_cast<float>(v);  // midpoints of the type are float32 values
  const auto b = static_cast<std::int64_t>(bits_of(std::fabs(f)));
  for (int o : offsets) {
    const std::int64_t nb = b + o;
    if (nb < 0 || nb > 0x7f800000) continue;
    const float g = from_bits(static_cast<std::uint32_t>(nb));
    out.push_back(g);
    out.push_back(-g);
  }
}

// Inputs for one type: float32 neighbours of grid values and of the midpoints between them
// (all of them for small types, a deterministic sample of values plus every binade edge for
// large ones), the edges of the range, float32 subnormals, zeros, infinities and NaNs.
std::vector<float> sample_inputs(int w, int t, std::size_t grid_budget = 1024) {
  const Grid g{w, t};
  const IeeeSpec s{w, t};
  std::vector<std::uint64_t> picks;
  const std::uint64_t n = g.count();
  if (n <= grid_budget) {
    for (std::uint64_t j = 0; j < n; ++j) picks.push_back(j);
  } else {
    for (std::uint64_t j = 0; j < 8; ++j) picks.push_back(j);
    for (std::uint64_t j = n - 8; j < n; ++j) picks.push_back(j);
    for (std::uint64_t field = 1; field < (std::uint64_t(1) << w) - 1; ++field) {
      picks.push_back((field << t) - 1);
      picks.push_back(field << t);
    }
    for (std::uint64_t i = 0; i < grid_budget / 2; ++i)
      picks.push_back(narrow::mix64(std::uint64_t(w) * 1000003 + std::uint64_t(t) * 7919 + i) % n);
  }
  std::vector<float> out;
  out.reserve(picks.size() * 40 + 512);
  for (std::uint64_t j : picks) {
    const double v = g.value(j), next = g.next(j);
    add_around(out, v, {0, 1, -1, 2, -2, 3, -3, 5, -5, 16, -16, 64, -64});
    add_around(out, (v + next) / 2, {0, 1, -1, 2, -2, 4, -4, 32, -32, 64, -64});
  }
  const double q = s.min_subnormal(), maxv = s.max_finite();
  const double top = std::ldexp(1.0, s.emax() + 1);
  for (double v : {q / 2, q, q * 0.75, q * 1.5, q / 4, s.min_normal(), maxv, (maxv + top) / 2,
                   std::ldexp(1.0, s.emax()) * (2 - std::ldexp(1.0, -(t + 1))), top, 2 * top, 1.0,
                   3.0, 1e-3, 1e30, 3.4e38})
    add_around(out, v, {0, 1, -1, 2, -2, 5, -5});
  // float32 subnormals, zeros, the largest float, infinities and NaNs.
  for (std::uint32_t b :
       {0x1u,   0x2u,        0x3u,        0x7u,        0x10u,       0x3ffu,      0x400u,
        0x401u, 0x1000u,     0x3fffffu,   0x400000u,   0x400001u,   0x7fffffu,   0x800000u,
        0x0u,   0x7f7fffffu, 0x7f800000u, 0x7fc00000u, 0x7f800001u, 0x7fffffffu, 0x7fa00000u}) {
    out.push_back(from_bits(b));
    out.push_back(from_bits(b | 0x80000000u));
  }
  for (std::uint64_t i = 0; i < 64; ++i) {
    const auto r = static_cast<std::uint32_t>(narrow::mix64(i + 77 * std::uint64_t(t)));
    out.push_back(from_bits(r & 0x807fffffu));  // float32 subnormals of both signs
    out.push_back(from_bits(r));                // anything
  }
  return out;
}

struct Compare {
  std::size_t checked = 0, mismatches = 0;
  std::string first;
};

// Rounds `inputs` with the plugin (one call; an odd start so that vector loops and their
// tails are both used) and compares with `oracle`.
template <class Oracle>
Compare compare(const narrow::NumberFormat& f, const std::vector<float>& inputs, Rounding mode,
                Oracle&& oracle) {
  std::vector<float> buf(inputs.size() + 1);
  std::copy(inputs.begin(), inputs.end(), buf.begin() + 1);
  f.round(std::span<float>(buf).subspan(1), RoundingOptions{mode, 0, 0});
  Compare c;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const float want = oracle(inputs[i]);
    ++c.checked;
    if (!same_result(buf[i + 1], want)) {
      if (c.mismatches++ < 5)
        c.first += fmt::format(
            "\n  {} {}: x={:a} (0x{:08x}) got {:a} (0x{:08x}) want {:a} "
            "(0x{:08x})",
            f.name(), narrow::rounding_name(mode), inputs[i], bits_of(inputs[i]), buf[i + 1],
            bits_of(buf[i + 1]), want, bits_of(want));
    }
  }
  return c;
}

}  // namespace

// The plugin has two rounding loops: AVX2, chosen when the CPU has it, and the baseline one,
// forced by NARROW_IEEE_NO_AVX2=1. ctest runs this program twice, as unit.ieee_format_test
// (the CPU's choice) and unit.ieee_format_test_baseline (forced), so that every test below
// runs on both loops on a machine with AVX2; this case checks that the loop the run was meant
// for is the one the plugin uses, so that the two runs cannot silently test the same loop.
BOOST_AUTO_TEST_CASE(the_intended_rounding_loop_runs) {
  (void)registry();  // loads the plugin
  const auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  const std::string build = env("NARROW_BUILD_DIR");
  BOOST_TEST_REQUIRE(!build.empty(), "NARROW_BUILD_DIR is not set (run the test through ctest)");
  const std::string library = build + "/lib/narrow/plugins/libnarrow_format_ieee.so";
  void* handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_NOLOAD);
  BOOST_TEST_REQUIRE(handle != nullptr, library << " is not loaded");
  using LoopFn = const char* (*)();
  const auto loop =
      reinterpret_cast<LoopFn>(::dlsym(handle, "narrow_format_ieee_rounding_loop"));
  BOOST_TEST_REQUIRE(loop != nullptr, "the plugin exports no narrow_format_ieee_rounding_loop");
  const bool forced = env("NARROW_IEEE_NO_AVX2") == "1";
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") != 0;
#else
  const bool avx2 = false;
#endif
  const std::string expected = !forced && avx2 ? "avx2" : "baseline";
  BOOST_TEST(std::string(loop()) == expected);
  BOOST_TEST_MESSAGE("rounding loop: " << loop() << (forced ? " (NARROW_IEEE_NO_AVX2=1)" : ""));
  ::dlclose(handle);
}

BOOST_AUTO_TEST_CASE(names_bits_and_aliases) {
  auto f = narrow::create_format(registry(), "ieee(4,3)");
  BOOST_TEST(f->name() == "ieee(4,3)");
  BOOST_TEST(f->bits() == 8);
  BOOST_TEST(f->roundings().size() == 5u);
  BOOST_TEST(narrow::create_format(registry(), "ieee")->name() == "ieee(5,10)");
  BOOST_TEST(narrow::create_format(registry(), "ieee(1,1)")->bits() == 3);
  BOOST_TEST(narrow::create_format(registry(), "ieee(8,23)")->bits() == 32);
  const std::map<std::string, std::pair<int, int>> aliases = {
      {"half", {5, 10}}, {"bfloat16", {8, 7}}, {"tf32", {8, 10}}};
  for (const auto& [name, wt] : aliases) {
    auto a = narrow::create_format(registry(), name, {{"saturate", "false"}});
    BOOST_TEST(a->name() == name);
    BOOST_TEST(a->bits() == 1 + wt.first + wt.second);
    // The alias is the type, bit for bit, with the options too.
    const auto inputs = sample_inputs(wt.first, wt.second, 200);
    for (bool sat : {false, true}) {
      auto alias = narrow::create_format(registry(), name, {{"saturate", sat ? "true" : "false"}});
      auto plain = make(wt.first, wt.second, sat);
      for (Rounding mode : deterministic_roundings) {
        std::vector<float> x = inputs, y = inputs;
        alias->round(x, {mode, 0, 0});
        plain->round(y, {mode, 0, 0});
        BOOST_TEST(std::equal(x.begin(), x.end(), y.begin(), same_result), name);
      }
    }
  }
  BOOST_CHECK_THROW(narrow::create_format(registry(), "ieee(0,3)"), narrow::InputError);
  BOOST_CHECK_THROW(narrow::create_format(registry(), "ieee(9,3)"), narrow::InputError);
  BOOST_CHECK_THROW(narrow::create_format(registry(), "ieee(4,24)"), narrow::InputError);
  BOOST_CHECK_THROW(narrow::create_format(registry(), "ieee(4,0)"), narrow::InputError);
  BOOST_CHECK_THROW(narrow::create_format(registry(), "ieee(4,3,yes,no,1)"), narrow::InputError);
  BOOST_CHECK_THROW(narrow::create_format(registry(), "half", {{"w", "4"}}), narrow::InputError);
}

BOOST_AUTO_TEST_CASE(known_values) {
  auto half = narrow::create_format(registry(), "half");
  std::vector<float> x = {1.0f,           65504.0f,      65519.99f, 65520.0f, 1e-8f,
                          2.98023224e-8f, 2.9802326e-8f, 0.1f,      -0.0f,    1.0f + 1.0f / 2048};
  half->round(x);
  const std::vector<float> want = {1.0f, 65504.0f,      65504.0f,         INFINITY, 0.0f,
                                   0.0f, 5.9604645e-8f, 0.0999755859375f, -0.0f,    1.0f};
  for (std::size_t i = 0; i < x.size(); ++i)
    BOOST_TEST(bits_of(x[i]) == bits_of(want[i]), "half #" << i);
  // T(1,t): multiples of 2^(1-t) below 2; T(1,2): 0, 0.5, 1, 1.5, then Inf.
  auto t12 = narrow::create_format(registry(), "ieee(1,2)");
  std::vector<float> y = {0.2f, 0.25f, 0.3f, 0.75f, 1.2f, 1.7f, 1.75f, 1.8f, 100.0f};
  t12->round(y);
  const std::vector<float> want12 = {0.0f, 0.0f,     0.5f,     1.0f,    1.0f,
                                     1.5f, INFINITY, INFINITY, INFINITY};
  for (std::size_t i = 0; i < y.size(); ++i)
    BOOST_TEST(bits_of(y[i]) == bits_of(want12[i]), "ieee(1,2) #" << i);
  // NaN stays NaN, quiet; the sign of zero is kept in every mode.
  std::vector<float> z = {from_bits(0x7f800001u), from_bits(0xff800001u), -0.0f, -1e-30f};
  for (Rounding mode : deterministic_roundings) {
    std::vector<float> v = z;
    half->round(v, {mode, 0, 0});
    BOOST_TEST(std::isnan(v[0]));
    BOOST_TEST((bits_of(v[0]) & 0x00400000u) != 0u);
    BOOST_TEST(std::isnan(v[1]));
    BOOST_TEST(bits_of(v[2]) == 0x80000000u);
    BOOST_TEST(std::signbit(v[3]));
  }
}

// The heart: every type, every deterministic mode, against MPFR; the double-based reference
// of the exhaustive benchmark against MPFR on the same inputs.
BOOST_AUTO_TEST_CASE(every_type_matches_mpfr) {
  std::size_t checked = 0, failed_types = 0;
  for (int w = 1; w <= 8; ++w) {
    for (int t = 1; t <= 23; ++t) {
      const auto inputs = sample_inputs(w, t);
      const IeeeSpec spec{w, t};
      auto f = make(w, t);
      BOOST_TEST_REQUIRE(f->name() == fmt::format("ieee({},{})", w, t));
      for (Rounding mode : deterministic_roundings) {
        const auto c = compare(*f, inputs, mode,
                               [&](float x) { return narrow::test::oracle_round(x, spec, mode); });
        checked += c.checked;
        if (c.mismatches) {
          ++failed_types;
          BOOST_ERROR(fmt::format("ieee({},{}) {}: {} of {} differ from MPFR{}", w, t,
                                  narrow::rounding_name(mode), c.mismatches, c.checked, c.first));
        }
        std::size_t ref_bad = 0;
        for (float x : inputs)
          if (!same_result(narrow::test::reference_round(x, spec, mode),
                           narrow::test::oracle_round(x, spec, mode)) &&
              ref_bad++ == 0)
            BOOST_ERROR(fmt::format("reference ieee({},{}) {} x={:a}: {:a} vs MPFR {:a}", w, t,
                                    narrow::rounding_name(mode), x,
                                    narrow::test::reference_round(x, spec, mode),
                                    narrow::test::oracle_round(x, spec, mode)));
      }
    }
  }
  BOOST_TEST_MESSAGE(fmt::format("{} values checked against MPFR", checked));
  BOOST_TEST(failed_types == 0u);
}

BOOST_AUTO_TEST_CASE(options_match_mpfr) {
  std::size_t checked = 0;
  for (int w = 1; w <= 8; ++w) {
    for (int t = 1; t <= 23; t += (w == 5 || w == 8) ? 1 : 2) {
      const auto inputs = sample_inputs(w, t, 60);
      for (bool sat : {false, true}) {
        for (bool flush : {false, true}) {
          if (!sat && !flush) continue;
          IeeeSpec spec{w, t};
          spec.saturate = sat;
          spec.flush_subnormals = flush;
          auto f = make(w, t, sat, flush);
          for (Rounding mode : deterministic_roundings) {
            const auto c = compare(*f, inputs, mode, [&](float x) {
              return narrow::test::oracle_round(x, spec, mode);
            });
            checked += c.checked;
            BOOST_TEST(c.mismatches == 0u, fmt::format("saturate={} flush={}: {} differ{}", sat,
                                                       flush, c.mismatches, c.first));
          }
        }
      }
    }
  }
  BOOST_TEST_MESSAGE(fmt::format("{} values checked with options", checked));
  // The options, by example: T(4,3) max is 240; its smallest normal 2^-6.
  std::vector<float> x = {1000.0f, -1000.0f, INFINITY, 0.01f, -0.01f, 0.015625f};
  make(4, 3, true, true)->round(x);
  BOOST_TEST(x[0] == 240.0f);
  BOOST_TEST(x[1] == -240.0f);
  BOOST_TEST(std::isinf(x[2]));  // Inf is exact, not an overflow
  BOOST_TEST(bits_of(x[3]) == 0u);
  BOOST_TEST(bits_of(x[4]) == 0x80000000u);
  BOOST_TEST(x[5] == 0.015625f);
}

BOOST_AUTO_TEST_CASE(idempotent_and_monotone) {
  for (int w = 1; w <= 8; ++w) {
    for (int t = 1; t <= 23; ++t) {
      auto inputs = sample_inputs(w, t, 100);
      std::erase_if(inputs, [](float x) { return std::isnan(x); });
      std::sort(inputs.begin(), inputs.end());
      for (bool sat : {false, true}) {
        auto f = make(w, t, sat, false);
        for (Rounding mode : deterministic_roundings) {
          std::vector<float> once = inputs;
          f->round(once, {mode, 0, 0});
          std::vector<float> twice = once;
          f->round(twice, {mode, 0, 0});
          BOOST_TEST(
              std::equal(once.begin(), once.end(), twice.begin(),
                         [](float a, float b) { return bits_of(a) == bits_of(b); }),
              fmt::format("ieee({},{}) {} is not idempotent", w, t, narrow::rounding_name(mode)));
          BOOST_TEST(std::is_sorted(once.begin(), once.end()),
                     fmt::format("ieee({},{}) {} does not preserve order", w, t,
                                 narrow::rounding_name(mode)));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(stochastic_neighbours_seeding_chunking) {
  for (int w = 1; w <= 8; ++w) {
    for (int t = 1; t <= 23; t += 3) {
      for (bool sat : {false, true}) {
        const auto inputs = sample_inputs(w, t, 100);
        auto f = make(w, t, sat);
        std::vector<float> up = inputs, down = inputs, s1 = inputs, s2 = inputs, s3 = inputs;
        f->round(up, {Rounding::up, 0, 0});
        f->round(down, {Rounding::down, 0, 0});
        f->round(s1, {Rounding::stochastic, 42, 1000});
        f->round(s2, {Rounding::stochastic, 42, 1000});
        // In chunks of odd sizes, each with its offset.
        for (std::size_t b = 0, k = 1; b < s3.size(); b += k, k = k * 3 + 1) {
          const std::size_t e = std::min(s3.size(), b + k);
          f->round(std::span<float>(s3).subspan(b, e - b), {Rounding::stochastic, 42, 1000 + b});
        }
        std::size_t outside = 0;
        for (std::size_t i = 0; i < inputs.size(); ++i)
          if (!same_result(s1[i], up[i]) && !same_result(s1[i], down[i]) && outside++ == 0)
            BOOST_ERROR(fmt::format("ieee({},{}) stochastic x={:a} gave {:a}, not {:a} or {:a}", w,
                                    t, inputs[i], s1[i], down[i], up[i]));
        BOOST_TEST(std::equal(s1.begin(), s1.end(), s2.begin(), same_result));
        BOOST_TEST(std::equal(s1.begin(), s1.end(), s3.begin(), same_result),
                   "chunked stochastic rounding differs");
      }
    }
  }
  // Another seed changes some results.
  auto f = make(4, 3);
  std::vector<float> x(1000, 1.03f), y(1000, 1.03f);
  f->round(x, {Rounding::stochastic, 1, 0});
  f->round(y, {Rounding::stochastic, 2, 0});
  BOOST_TEST(!std::equal(x.begin(), x.end(), y.begin()));
}

BOOST_AUTO_TEST_CASE(stochastic_frequencies) {
  const std::size_t n = 40000;
  for (auto [w, t] : {std::pair{4, 3}, {5, 10}, {8, 7}, {3, 2}, {1, 4}}) {
    const IeeeSpec spec{w, t};
    const double q = spec.min_subnormal();
    auto f = make(w, t);
    // Lower neighbour, fraction of the gap: normal range, subnormal range, below Q.
    std::vector<std::pair<double, double>> cases;
    if (w > 1) {
      const double ulp1 = std::ldexp(1.0, -t);
      for (double p : {0.25, 0.5, 0.8125}) cases.push_back({1.0 + ulp1 * p, p});
      const double big = std::ldexp(1.0, spec.emax());
      const double ulpb = std::ldexp(1.0, spec.emax() - t);
      cases.push_back({-(big + ulpb * 0.375), 0.375});
    }
    for (double p : {0.25, 0.625}) cases.push_back({q * (1 + p), p});
    for (double p : {0.3, 0.9}) cases.push_back({-q * p, double(float(q * p)) / q});
    for (auto [x, p] : cases) {
      std::vector<float> v(n, float(x));
      f->round(v, {Rounding::stochastic, 99, 12345});
      std::vector<float> away(1, float(std::fabs(x)));
      f->round(away, {Rounding::up, 0, 0});
      std::size_t ups = 0;
      for (float r : v) ups += std::fabs(r) == away[0] ? 1 : 0;
      const double freq = double(ups) / double(n);
      const double tol = 5 * std::sqrt(p * (1 - p) / double(n)) + 1e-3;
      BOOST_TEST(std::fabs(freq - p) < tol,
                 fmt::format("ieee({},{}) x={:a}: rounded away {} of the time, expected {}", w, t,
                             x, freq, p));
    }
  }
}

// The grid of the precision analysis, as the kernel expands it: 184 types.
BOOST_AUTO_TEST_CASE(grid_of_184_types) {
  const auto specs = narrow::expand_format_spec("ieee(1..8,1..23)");
  BOOST_TEST(specs.size() == 184u);
  std::size_t i = 0;
  for (int w = 1; w <= 8; ++w)
    for (int t = 1; t <= 23; ++t, ++i) {
      auto f = narrow::create_format(registry(), specs.at(i));
      BOOST_TEST(f->name() == fmt::format("ieee({},{})", w, t));
      BOOST_TEST(f->bits() == 1 + w + t);
    }
}
