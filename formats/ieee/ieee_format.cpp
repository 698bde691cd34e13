#include "ieee_format.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/random.hpp"

namespace narrow::formats {

namespace {

std::uint32_t float_bits(double v) {
  return std::bit_cast<std::uint32_t>(static_cast<float>(v));
}

constexpr std::uint32_t inf_bits = 0x7f800000u;
constexpr std::uint32_t quiet_bit = 0x00400000u;

// What the rounding loop needs, all as float32 bit patterns of magnitudes.
struct Kernel {
  std::uint32_t s;              // 23 - t: float32 significand bits dropped for normal results
  std::int32_t emin_biased;     // emin + 127: float32 biased exponent of 2^emin
  std::uint32_t max_bits;       // largest finite value
  std::uint32_t q_bits;         // smallest subnormal Q = 2^(emin - t)
  std::uint32_t q_half_bits;    // Q / 2 (the tie between 0 and Q)
  std::uint32_t flush_below;    // results below it become 0 (2^emin with flush_subnormals, else 0)
  std::uint32_t overflow_near;  // overflow in nearest and stochastic rounding: Inf, or max
  std::uint32_t overflow_away;  // overflow when rounding away from zero: Inf, or max
  std::int32_t tiny_shift;      // emin + 150 - t, for stochastic rounding below Q
};

enum class Mode { nearest_even, toward_zero, up, down, stochastic };

// Rounds n values in place. Branch-free: every lane computes every case and selects, so
// that the compiler vectorizes the loop (variable shifts per lane are AVX2's vpsllvd).
//
// For a finite magnitude with float32 bits a, the type's quantum at |x| is 2^d float32 ulps,
// d = (23 - t) + max(0, (emin + 127) - max(biased exponent, 1)): t significand bits in the
// normal range, the fixed quantum 2^(emin - t) below 2^emin (float32 subnormal inputs
// included, as their quantum is that of exponent 1). As long as |x| >= Q, d <= 23 and
// rounding is an integer add on a followed by a mask: the carry into the exponent field gives
// the next binade. Below Q the result is 0 or Q.
template <Mode M>
[[gnu::always_inline]] inline void round_loop(float* data, std::size_t n, const Kernel k,
                                              std::uint64_t key, std::uint64_t offset) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(data[i]);
    const std::uint32_t a = u & 0x7fffffffu;
    const std::uint32_t sign = u ^ a;
    const std::int32_t eb = static_cast<std::int32_t>(a >> 23);
    const std::int32_t e1 = eb > 1 ? eb : 1;
    const std::int32_t below = k.emin_biased - e1;
    std::uint32_t d = k.s + static_cast<std::uint32_t>(below > 0 ? below : 0);
    d = d < 31u ? d : 31u;
    const std::uint32_t mask = (1u << d) - 1u;
    std::uint32_t bias, tiny, overflow;
    if constexpr (M == Mode::nearest_even) {
      // The kept lowest bit decides ties; at d = 23 it is the hidden bit (results 2^E = Q
      // and 2^(E+1) = 2Q), hence the OR. No rounding when d = 0.
      bias = ((mask >> 1) + (((a | 0x00800000u) >> d) & 1u)) & mask;
      tiny = a > k.q_half_bits ? k.q_bits : 0u;
      overflow = k.overflow_near;
    } else if constexpr (M == Mode::toward_zero) {
      bias = 0u;
      tiny = 0u;
      overflow = k.max_bits;
    } else if constexpr (M == Mode::up || M == Mode::down) {
      // Away from zero for positive values rounded up and negative values rounded down.
      const std::uint32_t away = M == Mode::up ? (sign >> 31) ^ 1u : sign >> 31;
      const std::uint32_t away_mask = 0u - away;
      bias = mask & away_mask;
      tiny = a != 0u ? (k.q_bits & away_mask) : 0u;
      overflow = away ? k.overflow_away : k.max_bits;
    } else {
      // Stochastic: adding d uniform random bits carries into the kept bits with probability
      // (x - lower) / (upper - lower) exactly. Below Q, compare 32 random bits with x / Q.
      const std::uint64_t h = mix64(key ^ (offset + i));
      bias = static_cast<std::uint32_t>(h) & mask;
      const std::uint32_t sig = eb != 0 ? (a & 0x007fffffu) | 0x00800000u : a;
      // x / Q * 2^32 = sig * 2^(e1 - 118 - emin + t), sig < 2^24, as (sig << 32) >> shift.
      std::int32_t shift = k.tiny_shift - e1;
      shift = shift < 0 ? 0 : (shift > 63 ? 63 : shift);
      const auto frac =
          static_cast<std::uint32_t>((static_cast<std::uint64_t>(sig) << 32) >> shift);
      tiny = static_cast<std::uint32_t>(h >> 32) < frac ? k.q_bits : 0u;
      overflow = k.overflow_near;
    }
    std::uint32_t r = (a + bias) & ~mask;
    r = a < k.q_bits ? tiny : r;
    r = r > k.max_bits ? overflow : r;
    r = r < k.flush_below ? 0u : r;
    const std::uint32_t special = a > inf_bits ? a | quiet_bit : a;  // NaN quiet, Inf kept
    r = a >= inf_bits ? special : r;
    data[i] = std::bit_cast<float>(r | sign);
  }
}

template <class Loop>
void dispatch(Mode mode, Loop&& loop) {
  switch (mode) {
    case Mode::nearest_even:
      loop(std::integral_constant<Mode, Mode::nearest_even>{});
      break;
    case Mode::toward_zero:
      loop(std::integral_constant<Mode, Mode::toward_zero>{});
      break;
    case Mode::up:
      loop(std::integral_constant<Mode, Mode::up>{});
      break;
    case Mode::down:
      loop(std::integral_constant<Mode, Mode::down>{});
      break;
    case Mode::stochastic:
      loop(std::integral_constant<Mode, Mode::stochastic>{});
      break;
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define NARROW_IEEE_HAVE_AVX2_CLONE 1
[[gnu::target("avx2")]] void round_avx2(Mode mode, float* data, std::size_t n, const Kernel& k,
                                        std::uint64_t key, std::uint64_t offset) {
  switch (mode) {
    case Mode::nearest_even:
      round_loop<Mode::nearest_even>(data, n, k, key, offset);
      break;
    case Mode::toward_zero:
      round_loop<Mode::toward_zero>(data, n, k, key, offset);
      break;
    case Mode::up:
      round_loop<Mode::up>(data, n, k, key, offset);
      break;
    case Mode::down:
      round_loop<Mode::down>(data, n, k, key, offset);
      break;
    case Mode::stochastic:
      round_loop<Mode::stochastic>(data, n, k, key, offset);
      break;
  }
}

bool cpu_has_avx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
}
#endif

// NARROW_IEEE_NO_AVX2=1 forces the baseline loop (to test it on a machine with AVX2); unset,
// empty or 0 leaves the choice to the CPU. Read once; any other value is an input error.
bool baseline_forced() {
  static const bool forced = [] {
    const char* v = std::getenv("NARROW_IEEE_NO_AVX2");
    const std::string_view value = v ? v : "";
    if (value.empty() || value == "0") return false;
    if (value == "1") return true;
    throw InputError(fmt::format(
        "environment variable NARROW_IEEE_NO_AVX2='{}': allowed are 1 (use the baseline "
        "rounding loop) and 0 or empty (choose by the CPU)",
        value));
  }();
  return forced;
}

bool use_avx2() {
#ifdef NARROW_IEEE_HAVE_AVX2_CLONE
  return !baseline_forced() && cpu_has_avx2();
#else
  (void)baseline_forced();  // a bad value is an error on every machine
  return false;
#endif
}

void round_generic(Mode mode, float* data, std::size_t n, const Kernel& k, std::uint64_t key,
                   std::uint64_t offset) {
  dispatch(mode, [&](auto m) { round_loop<decltype(m)::value>(data, n, k, key, offset); });
}

Mode to_mode(Rounding r) {
  switch (r) {
    case Rounding::nearest_even:
      return Mode::nearest_even;
    case Rounding::toward_zero:
      return Mode::toward_zero;
    case Rounding::up:
      return Mode::up;
    case Rounding::down:
      return Mode::down;
    case Rounding::stochastic:
      return Mode::stochastic;
  }
  throw InputError(fmt::format("unknown rounding mode {}", static_cast<int>(r)));
}

}  // namespace

IeeeType::IeeeType(int w_, int t_) : w(w_), t(t_) {
  if (w < 1 || w > 8 || t < 1 || t > 23)
    throw InputError(fmt::format("ieee type T({},{}) needs w in 1..8 and t in 1..23", w, t));
  bias = (1 << (w - 1)) - 1;
  emax = bias;
  emin = 1 - emax;
  // The exponent of the largest binade: emax, or emin when w = 1 (all values subnormal).
  const int top = std::max(emax, emin);
  max_bits = float_bits(std::ldexp(1.0, emax + 1) - std::ldexp(1.0, top - t));
  quantum_bits = float_bits(std::ldexp(1.0, emin - t));
  min_normal_bits = float_bits(std::ldexp(1.0, emin));
}

IeeeFormat::IeeeFormat(int w, int t, bool saturate, bool flush_subnormals, std::string alias)
    : type_(w, t), saturate_(saturate), flush_(flush_subnormals), alias_(std::move(alias)) {}

IeeeFormat::IeeeFormat(const Parameters& p, std::string alias, int w_fixed, int t_fixed)
    : IeeeFormat(w_fixed > 0 ? w_fixed : static_cast<int>(p.integer("w")),
                 t_fixed > 0 ? t_fixed : static_cast<int>(p.integer("t")), p.boolean("saturate"),
                 p.boolean("flush_subnormals"), std::move(alias)) {}

std::string IeeeFormat::name() const {
  return alias_.empty() ? fmt::format("ieee({},{})", type_.w, type_.t) : alias_;
}

ParamSchema IeeeFormat::alias_schema() {
  return {
      ParamSpec::boolean("saturate", false,
                         "overflow gives the largest finite value instead of infinity"),
      ParamSpec::boolean("flush_subnormals", false,
                         "results below the smallest normal value become zero (sign kept)"),
  };
}

ParamSchema IeeeFormat::schema() {
  ParamSchema s = {
      ParamSpec::integer("w", 5, 1, 8, "exponent bits"),
      ParamSpec::integer("t", 10, 1, 23, "trailing significand bits (precision t+1)"),
  };
  for (auto& o : alias_schema()) s.push_back(std::move(o));
  return s;
}

void IeeeFormat::round(std::span<float> values, const RoundingOptions& options) const {
  const Mode mode = to_mode(options.mode);
  if (values.empty()) return;
  const std::uint32_t inf_or_max = saturate_ ? type_.max_bits : inf_bits;
  const Kernel k{
      static_cast<std::uint32_t>(23 - type_.t),
      type_.emin + 127,
      type_.max_bits,
      type_.quantum_bits,
      float_bits(std::ldexp(1.0, type_.emin - type_.t - 1)),
      flush_ ? type_.min_normal_bits : 0u,
      inf_or_max,
      inf_or_max,
      type_.emin + 150 - type_.t,
  };
  const std::uint64_t key = mix64(options.seed ^ 0x6a09e667f3bcc909ULL);
  if (use_avx2()) {
#ifdef NARROW_IEEE_HAVE_AVX2_CLONE
    round_avx2(mode, values.data(), values.size(), k, key, options.offset);
    return;
#endif
  }
  round_generic(mode, values.data(), values.size(), k, key, options.offset);
}

const char* IeeeFormat::rounding_loop() {
  return use_avx2() ? "avx2" : "baseline";
}

}  // namespace narrow::formats

extern "C" __attribute__((visibility("default"))) const char* narrow_format_ieee_rounding_loop() {
  return narrow::formats::IeeeFormat::rounding_loop();
}
