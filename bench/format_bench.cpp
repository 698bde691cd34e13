// How fast the ieee format plugin rounds float32 data, against a straightforward
// implementation (frexp / ldexp / floor in double, the exact reference of
// tests/support/mpfr_oracle.hpp), run side by side in the same process.
//
// For each type: round --count values (a normal distribution times scales from 1e-4 to 1e2,
// so that the subnormal and overflow paths of small types are used too) in place, on 1 thread
// and on 2 (TBB), --rounds times; the buffer is refilled from a master copy before each run,
// outside the timing. Prints millions of elements per second (best round) and the ratio
// narrow / baseline. The results of both must be equal bit for bit, or the program exits 1.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <boost/program_options.hpp>

#include "../tests/support/mpfr_oracle.hpp"
#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "run/loader.hpp"
#include "narrow/random.hpp"
#include "narrow/registry.hpp"

namespace {

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

struct Case {
  std::string format;
  int w, t;
};

// Runs fn(begin, end) over [0, n) on `threads` threads (1: directly).
template <class Fn>
void run_parallel(int threads, std::size_t n, Fn&& fn) {
  if (threads <= 1) {
    fn(std::size_t(0), n);
    return;
  }
  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, 1 << 16),
                      [&](const tbb::blocked_range<std::size_t>& r) { fn(r.begin(), r.end()); });
  });
}

// Best time over `rounds` of fn on a fresh copy of `master` in `work`.
template <class Fn>
double best_seconds(int rounds, const std::vector<float>& master, std::vector<float>& work,
                    Fn&& fn) {
  double best = 1e300;
  for (int r = 0; r < rounds; ++r) {
    std::memcpy(work.data(), master.data(), master.size() * sizeof(float));
    const auto start = Clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 16u << 20;
  int rounds = 5;
  std::uint64_t seed = 1;
  std::string mode_name = "nearest_even";
  po::options_description opts("narrow_bench_format options");
  opts.add_options()("help,h", "this help")("count", po::value(&count)->default_value(count),
                                            "values per run")(
      "rounds", po::value(&rounds)->default_value(rounds), "timed runs of each (best is kept)")(
      "mode", po::value(&mode_name)->default_value(mode_name),
      "rounding mode: nearest_even, toward_zero, up, down")(
      "seed", po::value(&seed)->default_value(seed), "seed of the data");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "narrow_bench_format: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  narrow::Rounding mode;
  if (!narrow::parse_rounding(mode_name, mode) || mode == narrow::Rounding::stochastic) {
    std::cerr << "narrow_bench_format: --mode must be nearest_even, toward_zero, up or down\n";
    return 2;
  }

  narrow::Registry registry;
  narrow::PluginLoader(registry).load_defaults();
  if (!registry.contains(narrow::Kind::format, "ieee")) {
    std::cerr << "narrow_bench_format: the ieee format plugin is not built\n";
    return 1;
  }

  // Data: N(0,1) times 10^k, k uniform in -4..2.
  std::vector<float> master(count), work(count);
  {
    narrow::Rng rng = narrow::stream_rng(seed, 0);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_int_distribution<int> scale(-4, 2);
    for (auto& v : master) v = normal(rng) * std::pow(10.0f, float(scale(rng)));
  }
  std::vector<float> narrow_out(count);

  const Case cases[] = {
      {"ieee(4,3)", 4, 3}, {"ieee(5,10)", 5, 10}, {"ieee(3,2)", 3, 2}, {"ieee(8,7)", 8, 7}};
  fmt::print("narrow_bench_format: {} float32 values per run, mode {}, best of {} rounds\n", count,
             mode_name, rounds);
  fmt::print("{:<11} {:>7} {:>14} {:>14} {:>8}\n", "format", "threads", "narrow Melem/s",
             "frexp Melem/s", "ratio");
  bool ok = true;
  for (const auto& c : cases) {
    const auto format = narrow::create_format(registry, c.format);
    const narrow::test::IeeeSpec spec{c.w, c.t};
    for (int threads : {1, 2}) {
      const double t_narrow = best_seconds(rounds, master, work, [&] {
        run_parallel(threads, count, [&](std::size_t b, std::size_t e) {
          format->round(std::span<float>(work.data() + b, e - b), {mode, 0, b});
        });
      });
      narrow_out = work;
      const double t_base = best_seconds(rounds, master, work, [&] {
        run_parallel(threads, count, [&](std::size_t b, std::size_t e) {
          for (std::size_t i = b; i < e; ++i)
            work[i] = narrow::test::reference_round(work[i], spec, mode);
        });
      });
      std::size_t differ = 0;
      for (std::size_t i = 0; i < count; ++i)
        if (!narrow::test::same_result(work[i], narrow_out[i]) && differ++ < 3)
          fmt::print(stderr, "  mismatch {} x={:a}: narrow {:a}, baseline {:a}\n", c.format,
                     master[i], narrow_out[i], work[i]);
      if (differ) ok = false;
      const double r_narrow = double(count) / t_narrow / 1e6;
      const double r_base = double(count) / t_base / 1e6;
      fmt::print("{:<11} {:>7} {:>14.1f} {:>14.1f} {:>7.1f}x{}\n", c.format, threads, r_narrow,
                 r_base, r_narrow / r_base, differ ? fmt::format("  ({} MISMATCHES)", differ) : "");
    }
  }
  if (!ok) {
    fmt::print(stderr, "narrow_bench_format: results differ from the baseline\n");
    return 1;
  }
  return 0;
}
