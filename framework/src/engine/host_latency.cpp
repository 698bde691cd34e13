// Host latency measurement (Scheidegger et al. 3.3): batch size 1, batch norm folded, eval and
// inference mode, warm-up runs, then timed runs whose mean is the latency.
#include "engine/host_latency.hpp"

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "engine/builder.hpp"
#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/latency_model.hpp"
#include "engine/trainer.hpp"

namespace narrow {

namespace {

using Clock = std::chrono::steady_clock;

/// Flushes denormal floats to zero in this thread while it lives (FTZ and DAZ), then restores
/// the thread's mode. Random weights through a deep network without batch norm can shrink
/// activations into the denormal range, where x86 cores are many times slower: the latency
/// would then measure the weights' values instead of the architecture.
class FlushDenormals {
 public:
#if defined(__SSE2__)
  FlushDenormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
  ~FlushDenormals() { _mm_setcsr(saved_); }

 private:
  unsigned saved_;
#endif
};

/// Sets LibTorch's intra-op thread count while it lives, then restores it.
class ThreadCount {
 public:
  explicit ThreadCount(int threads) : saved_(at::get_num_threads()) {
    at::set_num_threads(threads);
  }
  ~ThreadCount() { at::set_num_threads(saved_); }

 private:
  int saved_;
};

struct Attempt {
  std::vector<double> times;
  double mean = 0, median = 0, stddev = 0, cv = 0;
};

Attempt summarise(std::vector<double> times) {
  Attempt a;
  a.times = times;  // kept in run order
  const double n = double(times.size());
  a.mean = std::accumulate(times.begin(), times.end(), 0.0) / n;
  double ss = 0;
  for (double t : times) ss += (t - a.mean) * (t - a.mean);
  a.stddev = times.size() > 1 ? std::sqrt(ss / (n - 1)) : 0;
  a.cv = a.mean > 0 ? a.stddev / a.mean : 0;
  a.median = median_of(std::move(times));
  return a;
}

void check(const LatencyOptions& o) {
  auto bad = [](const char* what, auto value, const char* allowed) {
    throw InputError(fmt::format("latency measurement: '{}' is {}, allowed {}", what, value,
                                 allowed));
  };
  if (o.runs < 1 || o.runs > 100000) bad("runs", o.runs, "1..100000");
  if (o.warmup < 0 || o.warmup > 100000) bad("warmup", o.warmup, "0..100000");
  if (o.threads < 1 || o.threads > 1024) bad("threads", o.threads, "1..1024");
  if (o.max_repeats < 0 || o.max_repeats > 1000) bad("max_repeats", o.max_repeats, "0..1000");
  if (!(o.max_cv >= 0)) bad("max_cv", o.max_cv, ">= 0");
  if (!(o.min_run_seconds >= 0) || o.min_run_seconds > 60)
    bad("min_run_seconds", o.min_run_seconds, "0..60");
  if (o.clock != "wall" && o.clock != "thread_cpu")
    throw InputError(fmt::format("latency measurement: clock '{}' must be wall or thread_cpu",
                                 o.clock));
  if (o.clock == "thread_cpu" && o.threads != 1)
    throw InputError(fmt::format("latency measurement: clock thread_cpu counts one thread's "
                                 "time and needs threads 1, not {}",
                                 o.threads));
}

/// Seconds on the measurement's clock.
double now(bool thread_cpu) {
  if (thread_cpu) {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
  }
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// Inputs a measurement cycles through.
constexpr int kDistinctInputs = 16;

}  // namespace

LatencyMeasurement measure_latency(const Architecture& network,
                                   const LatencyOptions& options) {
  check(options);
  const Architecture arch = fold_batchnorm(network);
  ThreadCount thread_count(options.threads);
  FlushDenormals flush;

  // Random weights (latency does not depend on the values), seeded by the architecture so
  // that a measurement does not draw from LibTorch's global generator. Weights are scaled to
  // keep the activations' variance through ReLU layers (He et al.): neither denormals nor
  // overflow in deep networks without batch norm.
  const std::uint64_t seed = content_seed(arch.hash());
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  GraphModule module = build_module(arch);
  init_weights(module, generator);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : module->named_parameters())
      if (p.key().ends_with("weight") && p.value().dim() >= 2) p.value().mul_(std::sqrt(6.0));
  }
  module->eval();
  c10::InferenceMode inference;
  // Successive inferences take different inputs, as a deployed model does: with one input
  // repeated, the CPU's branch predictors learn data-dependent branches (max pooling's
  // comparisons) and small layers run faster than they would on new images.
  const Shape& in = arch.input();
  std::vector<torch::Tensor> inputs;
  for (int i = 0; i < kDistinctInputs; ++i)
    inputs.push_back(in.flat ? torch::randn({1, in.c}, generator)
                             : torch::randn({1, in.c, in.h, in.w}, generator));
  std::size_t next = 0;
  auto input = [&]() -> const torch::Tensor& { return inputs[next++ % inputs.size()]; };
  auto once = [&] { return module->forward(input()); };
  // Warm-up, and the time of one inference, which decides how many inferences a timed run
  // needs to last at least min_run_seconds.
  for (int i = 0; i < options.warmup; ++i) (void)once();
  const bool thread_cpu = options.clock == "thread_cpu";
  const double t0 = now(thread_cpu);
  (void)once();
  const double single = now(thread_cpu) - t0;
  int per_run = 1;
  if (single > 0 && single < options.min_run_seconds)
    per_run = int(std::min(10000.0, std::ceil(options.min_run_seconds / single)));

  LatencyMeasurement m;
  m.threads = options.threads;
  m.clock = options.clock;
  m.cpu = host_cpu_model();
  m.inferences_per_run = per_run;
  Attempt best;
  bool have = false;
  for (int attempt = 0; attempt <= options.max_repeats; ++attempt) {
    std::vector<double> times;
    times.reserve(std::size_t(options.runs));
    for (int r = 0; r < options.runs; ++r) {
      const double start = now(thread_cpu);
      for (int k = 0; k < per_run; ++k) (void)once();
      times.push_back((now(thread_cpu) - start) / per_run);
    }
    Attempt a = summarise(std::move(times));
    if (!have || a.cv < best.cv) best = std::move(a);
    have = true;
    m.repeats = attempt;
    if (best.cv <= options.max_cv) break;
  }
  m.mean = best.mean;
  m.median = best.median;
  m.stddev = best.stddev;
  m.cv = best.cv;
  m.runs = options.runs;
  m.noisy = best.cv > options.max_cv;
  m.times = std::move(best.times);
  if (options.layers) {
    // As many inferences as the kept repetition timed, each layer timed inside the network.
    const int inferences = options.runs * per_run;
    std::vector<double> seconds;
    for (int k = 0; k < inferences; ++k) (void)module->forward_timed(input(), seconds);
    for (double& s : seconds) s /= inferences;
    m.layer_seconds = std::move(seconds);
  }
  return m;
}

}  // namespace narrow
