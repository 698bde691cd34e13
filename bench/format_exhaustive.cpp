// Every float32 input, all 2^32 bit patterns, through number formats, against an exact
// reference: half, bfloat16 and ieee(4,3) of the ieee plugin, and e4m3 and e5m2 (saturating
// and not) when a plugin registers formats of those names (skipped with a message otherwise).
//
// The reference of the IEEE-style types is reference_round of tests/support/mpfr_oracle.hpp
// (frexp / ldexp / floor in double, exact). The reference of e4m3 and e5m2 is
// tests/support/ofp8_reference.hpp, written from the OCP 8-bit floating point specification
// (OFP8 rev. 1.0) alone: a table of every code's value, rounding between neighbours, and the
// specification's rules for overflow, infinities and NaN in saturating and non-saturating
// mode; nothing of it is read from the plugin. This program first checks each reference
// against the MPFR oracle on a sample of inputs (--sample, spread over the whole bit space
// plus the edges of each format), then runs the 2^32 inputs on --threads threads (TBB), in
// blocks rounded by the format in one call. Mismatches are printed (the first few per format
// and mode) with a summary line per format and mode; the exit status is 1 when any input
// differs.
#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <boost/program_options.hpp>

#include "../tests/support/mpfr_oracle.hpp"
#include "../tests/support/ofp8_reference.hpp"
#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "run/loader.hpp"
#include "narrow/random.hpp"
#include "narrow/registry.hpp"

namespace {

namespace po = boost::program_options;
using narrow::Rounding;
using narrow::test::IeeeSpec;
using narrow::test::Ofp8Reference;
using Clock = std::chrono::steady_clock;

float from_bits(std::uint32_t b) {
  return std::bit_cast<float>(b);
}

// The reference of one format: an IeeeSpec (the MPFR oracle's description of the type, and
// the reference itself for IEEE-style types) and, for e4m3 / e5m2, the OCP table reference.
struct Reference {
  IeeeSpec spec;
  std::optional<Ofp8Reference> ofp8;
  float round(float x, Rounding mode) const {
    return ofp8 ? ofp8->expect(x, mode) : narrow::test::reference_round(x, spec, mode);
  }
  // MPFR knows nothing of OFP8's rules for infinite inputs: those are the specification's own.
  float oracle(float x, Rounding mode) const {
    if (ofp8 && std::isinf(x)) return ofp8->expect(x, mode);
    return narrow::test::oracle_round(x, spec, mode);
  }
};

std::string describe(double v) {
  return std::isnan(v) ? "NaN" : fmt::format("{}", v);
}

// "e4m3", "e4m3(no)", "e5m2(yes)", ...: the saturation of an OFP8 format name, with the
// defaults the ofp8 plugin documents (e4m3 saturates, e5m2 does not).
std::optional<bool> ofp8_saturation(const std::string& name, const std::string& base) {
  if (name == base) return base == "e4m3";
  if (name.rfind(base + "(", 0) != 0 || name.back() != ')') return std::nullopt;
  const std::string value = name.substr(base.size() + 1, name.size() - base.size() - 2);
  if (value == "yes" || value == "true") return true;
  if (value == "no" || value == "false") return false;
  return std::nullopt;
}

// The reference of a format by name.
std::optional<Reference> reference_for(const std::string& name) {
  Reference r;
  if (name == "half") {
    r.spec = {5, 10};
  } else if (name == "bfloat16") {
    r.spec = {8, 7};
  } else if (name == "tf32") {
    r.spec = {8, 10};
  } else if (name.rfind("ieee(", 0) == 0) {
    int w = 0, t = 0;
    if (std::sscanf(name.c_str(), "ieee(%d,%d)", &w, &t) != 2) return std::nullopt;
    r.spec = {w, t};
  } else if (const auto sat4 = ofp8_saturation(name, "e4m3")) {
    // E4M3: T(4,3) whose top binade is normal up to S.1111.110 = 1.110b x 2^8 = 448.
    r.spec = {4, 3, *sat4, false, 448.0, true};
    r.ofp8.emplace(narrow::test::e4m3_layout, *sat4);
  } else if (const auto sat5 = ofp8_saturation(name, "e5m2")) {
    r.spec = {5, 2, *sat5};
    r.ofp8.emplace(narrow::test::e5m2_layout, *sat5);
  } else {
    return std::nullopt;
  }
  if (r.ofp8) {
    const auto& o = *r.ofp8;
    fmt::print("  {}: OCP OFP8 reference: largest {}, overflow gives {}, +Inf gives {}, -Inf "
               "gives {}\n",
               name, o.max, describe(o.overflow_value(1)), describe(o.expect(INFINITY,
               Rounding::nearest_even)), describe(o.expect(-INFINITY, Rounding::nearest_even)));
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  std::size_t sample = 1u << 20;
  std::vector<std::string> formats = {"half", "bfloat16", "ieee(4,3)", "e4m3", "e4m3(no)", "e5m2",
                                      "e5m2(yes)"};
  std::vector<std::string> mode_names = {"nearest_even"};
  std::uint64_t limit = std::uint64_t(1) << 32;
  po::options_description opts("narrow_bench_format_exhaustive options");
  opts.add_options()("help,h", "this help")("threads", po::value(&threads)->default_value(threads),
                                            "threads (TBB)")(
      "sample", po::value(&sample)->default_value(sample),
      "inputs on which the reference is checked against MPFR, per format and mode")(
      "format", po::value(&formats)->multitoken(),
      "formats (default: half bfloat16 ieee(4,3) e4m3 e4m3(no) e5m2 e5m2(yes))")(
      "mode", po::value(&mode_names)->multitoken(),
      "rounding modes: nearest_even toward_zero up down, or all (default: nearest_even)")(
      "limit", po::value(&limit)->default_value(limit),
      "check only inputs 0 .. limit-1 of the bit space (a quick run)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "narrow_bench_format_exhaustive: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  std::vector<Rounding> modes;
  for (const auto& m : mode_names) {
    Rounding r;
    if (m == "all") {
      modes = {Rounding::nearest_even, Rounding::toward_zero, Rounding::up, Rounding::down};
    } else if (!narrow::parse_rounding(m, r) || r == Rounding::stochastic) {
      std::cerr << "narrow_bench_format_exhaustive: unknown or unsupported mode " << m << "\n";
      return 2;
    } else {
      modes.push_back(r);
    }
  }
  limit = std::min<std::uint64_t>(limit, std::uint64_t(1) << 32);

  narrow::Registry registry;
  narrow::PluginLoader(registry).load_defaults();
  tbb::task_arena arena(threads);
  bool ok = true;
  const auto all_start = Clock::now();
  for (const auto& name : formats) {
    std::unique_ptr<narrow::NumberFormat> f;
    try {
      f = narrow::create_format(registry, name);
    } catch (const narrow::Error& e) {
      fmt::print("{:<10} skipped: no such format is registered ({})\n", name, e.what());
      continue;
    }
    const auto ref = reference_for(name);
    if (!ref) {
      fmt::print("{:<10} skipped: no reference for this format\n", name);
      continue;
    }
    const auto supported = f->roundings();
    for (Rounding mode : modes) {
      const auto mode_name = narrow::rounding_name(mode);
      if (std::find(supported.begin(), supported.end(), mode) == supported.end()) {
        fmt::print("{:<10} {:<12} skipped: the format does not support this mode\n", name,
                   mode_name);
        continue;
      }
      // 1. The reference against MPFR: the edges of the format, then a spread sample.
      std::vector<float> probe;
      const double edges[] = {ref->spec.min_subnormal(), ref->spec.min_subnormal() / 2,
                              ref->spec.min_normal(), ref->spec.max_finite(),
                              ref->spec.max_finite() * (1 + std::ldexp(1.0, -ref->spec.t - 1))};
      for (double e : edges) {
        const auto b = std::bit_cast<std::uint32_t>(static_cast<float>(e));
        for (std::uint32_t d = 0; d < 16; ++d)
          for (std::uint32_t s : {0u, 0x80000000u}) {
            probe.push_back(from_bits((b + d) | s));
            probe.push_back(from_bits((b - d) | s));
          }
      }
      for (std::size_t i = 0; i < sample; ++i)
        probe.push_back(from_bits(static_cast<std::uint32_t>(narrow::mix64(i))));
      std::size_t ref_bad = 0;
      for (float x : probe) {
        const float a = ref->round(x, mode), b = ref->oracle(x, mode);
        if (!narrow::test::same_result(a, b) && ref_bad++ < 3)
          fmt::print("  reference differs from MPFR: {} {} x={:a}: {:a} vs {:a}\n", name, mode_name,
                     x, a, b);
      }
      if (ref_bad) {
        fmt::print("{:<10} {:<12} FAILED: the reference differs from MPFR on {} of {} inputs\n",
                   name, mode_name, ref_bad, probe.size());
        ok = false;
        continue;
      }
      // 2. Every input.
      const auto start = Clock::now();
      std::atomic<std::uint64_t> mismatches{0};
      std::mutex print_mutex;
      constexpr std::uint64_t block = 1 << 16;
      const std::uint64_t blocks = (limit + block - 1) / block;
      arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::uint64_t>(0, blocks, 1),
                          [&](const tbb::blocked_range<std::uint64_t>& range) {
                            std::vector<float> in(block), out(block);
                            for (std::uint64_t bi = range.begin(); bi != range.end(); ++bi) {
                              const std::uint64_t first = bi * block;
                              const std::size_t n =
                                  static_cast<std::size_t>(std::min(block, limit - first));
                              for (std::size_t i = 0; i < n; ++i)
                                in[i] = out[i] = from_bits(static_cast<std::uint32_t>(first + i));
                              f->round(std::span<float>(out.data(), n), {mode, 0, first});
                              for (std::size_t i = 0; i < n; ++i) {
                                const float want = ref->round(in[i], mode);
                                if (!narrow::test::same_result(out[i], want)) {
                                  if (mismatches.fetch_add(1) < 8) {
                                    std::lock_guard lock(print_mutex);
                                    fmt::print(
                                        "  mismatch {} {} x={:a} (0x{:08x}): got {:a} (0x{:08x}), "
                                        "reference {:a} (0x{:08x})\n",
                                        name, mode_name, in[i], std::bit_cast<std::uint32_t>(in[i]),
                                        out[i], std::bit_cast<std::uint32_t>(out[i]), want,
                                        std::bit_cast<std::uint32_t>(want));
                                  }
                                }
                              }
                            }
                          });
      });
      const double secs = std::chrono::duration<double>(Clock::now() - start).count();
      const std::uint64_t bad = mismatches.load();
      if (bad) ok = false;
      fmt::print(
          "{:<10} {:<12} {} inputs, {} mismatches, reference = MPFR on {} samples, "
          "{:.1f} s on {} threads: {}\n",
          name, mode_name, limit, bad, probe.size(), secs, threads, bad ? "FAIL" : "ok");
      std::fflush(stdout);
    }
  }
  fmt::print("narrow_bench_format_exhaustive: {} in {:.0f} s\n", ok ? "all equal" : "MISMATCHES",
             std::chrono::duration<double>(Clock::now() - all_start).count());
  return ok ? 0 : 1;
}
