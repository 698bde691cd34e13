#define BOOST_TEST_MODULE int8_format
#include <boost/test/unit_test.hpp>

#include <algorithm>
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

using namespace narrow;

namespace {

Registry& registry() {
  return narrow::test::built_plugins("libnarrow_format_int8.so");
}

std::unique_ptr<NumberFormat> int8() {
  return create_format(registry(), "int8");
}

/// The textbook per-tensor asymmetric quantisation, written plainly.
std::vector<float> reference_asymmetric(const std::vector<float>& xs, float& scale, int& zp) {
  float lo = 0, hi = 0;
  for (float x : xs) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  scale = hi > lo ? float((double(hi) - double(lo)) / 255.0) : 1.0f;
  zp = int(std::clamp(std::nearbyint(-128.0 - double(lo) / double(scale)), -128.0, 127.0));
  std::vector<float> out;
  for (float x : xs) {
    const double q = std::clamp(std::nearbyint(double(x) / double(scale)) + zp, -128.0, 127.0);
    out.push_back(float((q - zp) * double(scale)));
  }
  return out;
}

std::vector<float> random_values(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> xs(n);
  for (auto& x : xs) x = u(gen);
  return xs;
}

/// Every value of `ys` is (q - zp) * scale rounded to float32 for an integer q in range.
void check_on_grid(const std::vector<float>& ys, float scale, int zp, int q_min, int q_max) {
  for (float y : ys) {
    const double q = std::nearbyint(double(y) / double(scale)) + zp;
    BOOST_TEST_REQUIRE(q >= q_min);
    BOOST_TEST_REQUIRE(q <= q_max);
    BOOST_TEST_REQUIRE(y == float((q - zp) * double(scale)));
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(name_and_bits) {
  auto f = int8();
  BOOST_TEST(f->name() == "int8");
  BOOST_TEST(f->bits() == 8);
  BOOST_TEST(f->roundings().size() == 5u);
}

BOOST_AUTO_TEST_CASE(per_tensor_asymmetric_matches_the_reference) {
  auto f = int8();
  for (auto [lo, hi] : {std::pair{-1.0f, 3.0f}, std::pair{0.5f, 2.0f}, std::pair{-7.0f, -0.25f},
                        std::pair{-1e-3f, 1e-3f}, std::pair{-300.0f, 40.0f}}) {
    auto xs = random_values(5000, lo, hi, 1);
    float scale;
    int zp;
    const auto want = reference_asymmetric(xs, scale, zp);
    auto got = xs;
    f->round(got);
    BOOST_TEST(got == want, "range " << lo << ".." << hi);
    check_on_grid(got, scale, zp, -128, 127);
    // quantize() of an activation is the same.
    auto act = xs;
    f->quantize(act, TensorInfo{TensorInfo::Role::activation, 1});
    BOOST_TEST(act == want);
    // The error is at most half a step inside the range.
    for (std::size_t i = 0; i < xs.size(); ++i)
      BOOST_TEST_REQUIRE(std::fabs(double(got[i]) - double(xs[i])) <= 0.5001 * scale);
    // 0 is exact and the range ends are near.
    std::vector<float> z{0.0f, lo, hi};
    z.insert(z.end(), xs.begin(), xs.end());
    f->round(z);
    BOOST_TEST(z[0] == 0.0f);
  }
}

BOOST_AUTO_TEST_CASE(zero_tensor_and_special_values) {
  auto f = int8();
  std::vector<float> zeros(100, 0.0f);
  f->round(zeros);
  for (float v : zeros) BOOST_TEST(v == 0.0f);
  f->quantize(zeros, TensorInfo{TensorInfo::Role::weight, 10});
  for (float v : zeros) BOOST_TEST(v == 0.0f);
  std::vector<float> empty;
  f->round(empty);
  // NaN becomes 0; infinities saturate and do not widen the range.
  const float finf = std::numeric_limits<float>::infinity();
  std::vector<float> xs{1.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), finf, -finf, 0.5f};
  f->round(xs);
  const float scale = float(2.0 / 255.0);
  BOOST_TEST(xs[2] == 0.0f);
  BOOST_TEST(xs[0] <= 1.0f);
  BOOST_TEST(std::fabs(xs[0] - 1.0f) <= scale);
  // +Inf -> q = 127 and -Inf -> q = -128: the ends of the grid, 255 steps apart.
  BOOST_TEST(xs[3] >= xs[0]);
  BOOST_TEST(xs[4] <= xs[1]);
  BOOST_TEST(std::fabs(double(xs[3]) - double(xs[4]) - 255.0 * scale) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(weights_are_per_channel_symmetric) {
  auto f = int8();
  const int channels = 4, per = 300;
  std::vector<float> w;
  const float ranges[channels] = {0.01f, 1.0f, 50.0f, 0.0f};
  for (int c = 0; c < channels; ++c) {
    auto v = random_values(per, -ranges[c], ranges[c] * 0.5f, unsigned(c + 10));
    if (ranges[c] == 0) v.assign(per, 0.0f);
    w.insert(w.end(), v.begin(), v.end());
  }
  auto got = w;
  f->quantize(got, TensorInfo{TensorInfo::Role::weight, channels});
  for (int c = 0; c < channels; ++c) {
    const auto begin = w.begin() + c * per, end = begin + per;
    double amax = 0;
    for (auto it = begin; it != end; ++it) amax = std::max(amax, std::fabs(double(*it)));
    const float scale = amax > 0 ? float(amax / 127.0) : 1.0f;
    std::vector<float> ch(got.begin() + c * per, got.begin() + (c + 1) * per);
    check_on_grid(ch, scale, 0, -127, 127);
    for (int i = 0; i < per; ++i) {
      const float x = w[std::size_t(c * per + i)];
      const double q = std::clamp(std::nearbyint(double(x) / double(scale)), -127.0, 127.0);
      BOOST_TEST_REQUIRE(ch[std::size_t(i)] == float(q * double(scale)));
    }
  }
  // The channel with the largest magnitude keeps it exactly (up to float rounding of 127*s).
  BOOST_CHECK_THROW(f->quantize(got, TensorInfo{TensorInfo::Role::weight, 7}), InputError);
}

BOOST_AUTO_TEST_CASE(ranges_static_by_default_or_dynamic) {
  BOOST_TEST(int8()->calibration_images() == 512);
  auto dynamic = create_format(registry(), "int8(dynamic)");
  BOOST_TEST(dynamic->name() == "int8(dynamic)");
  BOOST_TEST(dynamic->calibration_images() == 0);
  auto small = create_format(registry(), "int8(static,64)");
  BOOST_TEST(small->name() == "int8(static,64)");
  BOOST_TEST(small->calibration_images() == 64);
  BOOST_TEST(create_format(registry(), "int8", {{"calibration", "512"}})->name() == "int8");
  BOOST_CHECK_THROW(create_format(registry(), "int8(static,0)"), InputError);
  BOOST_CHECK_THROW(create_format(registry(), "int8(per_image)"), InputError);
}

BOOST_AUTO_TEST_CASE(a_calibrated_activation_uses_its_fixed_range) {
  auto f = int8();
  // The calibrated range [-1, 3]: scale 4/255, zp round(-128 + 255/4) = -64; values beyond
  // it saturate at q = -128 (-1) and q = 127 (3 - rounding).
  const double scale = double(float(4.0 / 255.0));
  const int zp = int(std::nearbyint(-128.0 + 1.0 / scale));
  BOOST_TEST(zp == -64);
  std::vector<float> xs = {0.0f, 0.5f, -0.3f, 2.9f, 10.0f, -5.0f};
  TensorInfo info;
  info.calibrated = true;
  info.low = -1.0f;
  info.high = 3.0f;
  auto got = xs;
  f->quantize(got, info);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double q = std::clamp(std::nearbyint(double(xs[i]) / scale) + zp, -128.0, 127.0);
    BOOST_TEST(got[i] == float((q - zp) * scale), "value " << xs[i]);
  }
  BOOST_TEST(got[4] == float((127 - zp) * scale));   // saturated above
  BOOST_TEST(got[5] == float((-128 - zp) * scale));  // saturated below
  // The same tensor without a calibrated range, or in int8(dynamic), takes its own range.
  auto own = xs, dynamic = xs;
  f->quantize(own, TensorInfo{});
  create_format(registry(), "int8(dynamic)")->quantize(dynamic, info);
  float s;
  int z;
  const auto want = reference_asymmetric(xs, s, z);
  BOOST_TEST(own == want);
  BOOST_TEST(dynamic == want);
}

BOOST_AUTO_TEST_CASE(stored_bits_count_scales_zero_points_and_int32_biases) {
  auto f = int8();
  // 3 output channels of 10 weights: 30 int8 values, and a float32 scale and a 32-bit zero
  // point per channel.
  BOOST_TEST(f->stored_bits(TensorInfo{TensorInfo::Role::weight, 3}, 30) == 30 * 8 + 3 * 64);
  BOOST_TEST(f->stored_bits(TensorInfo{TensorInfo::Role::bias, 1}, 3) == 3 * 32);
  // A static model stores each activation tensor's scale and zero point; a dynamic one
  // finds them at run time.
  BOOST_TEST(f->stored_bits(TensorInfo{}, 784) == 64);
  auto dynamic = create_format(registry(), "int8(dynamic)");
  BOOST_TEST(dynamic->stored_bits(TensorInfo{}, 784) == 0);
  BOOST_TEST(dynamic->stored_bits(TensorInfo{TensorInfo::Role::weight, 3}, 30) == 30 * 8 + 3 * 64);
}

BOOST_AUTO_TEST_CASE(biases_stay_float32) {
  auto f = int8();
  auto b = random_values(64, -3.0f, 3.0f, 4);
  auto got = b;
  f->quantize(got, TensorInfo{TensorInfo::Role::bias, 1});
  BOOST_TEST(got == b);
}

BOOST_AUTO_TEST_CASE(directed_and_stochastic_modes_act_on_q) {
  auto f = int8();
  auto xs = random_values(10000, -2.0f, 5.0f, 8);
  float scale;
  int zp;
  (void)reference_asymmetric(xs, scale, zp);
  auto down = xs, up = xs, tz = xs;
  f->round(down, {Rounding::down});
  f->round(up, {Rounding::up});
  f->round(tz, {Rounding::toward_zero});
  for (std::size_t i = 0; i < xs.size(); ++i) {
    BOOST_TEST_REQUIRE(down[i] <= up[i]);
    BOOST_TEST_REQUIRE(up[i] - down[i] <= scale * 1.0001f);
    BOOST_TEST_REQUIRE(std::fabs(tz[i]) <= std::fabs(xs[i]) + 1e-6f * scale);
  }
  check_on_grid(down, scale, zp, -128, 127);
  check_on_grid(up, scale, zp, -128, 127);
  auto s1 = xs, s2 = xs, s3 = xs;
  f->round(s1, {Rounding::stochastic, 3, 0});
  f->round(s2, {Rounding::stochastic, 3, 0});
  f->round(s3, {Rounding::stochastic, 4, 0});
  BOOST_TEST(s1 == s2);
  BOOST_TEST(s1 != s3);
  double sum_error = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    BOOST_TEST_REQUIRE((s1[i] == down[i] || s1[i] == up[i]));
    sum_error += double(s1[i]) - double(xs[i]);
  }
  BOOST_TEST(std::fabs(sum_error / double(xs.size())) < 0.02 * scale);  // unbiased
}
