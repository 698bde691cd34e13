// How fast narrow explores a search space, against the way a PyTorch user does it.
//
// narrow: draw an assignment from the uniform law, build the graph, run shape inference, compute
// every metric and the content hash (Sampler::draw_many), on 1 and on 2 threads.
// LibTorch: the same architectures (same seed, draws 0..k-1 of the same sequence) built as
// modules (build_module) and their trainable parameters counted (count_parameters), LibTorch
// intra-op threads = 1, on 1 worker (k limited by --torch-count and --torch-seconds) and then on
// 2 workers over exactly those k. Drawing the LibTorch side's architectures is not timed.
//
// Every parameter count LibTorch gives is checked against narrow's analytics; a mismatch makes
// the program exit with 1.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "bench_support.hpp"
#include "engine/builder.hpp"
#include "narrow/errors.hpp"
#include "run/loader.hpp"
#include "narrow/registry.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"

namespace {

namespace po = boost::program_options;
constexpr const char* kProgram = "narrow_bench_sampling";
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// 1234567.8 -> "1,234,568"
std::string grouped(double value) {
  std::string digits = std::to_string(static_cast<long long>(value + 0.5));
  std::string out;
  const std::size_t n = digits.size();
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[i];
    if (i + 1 < n && (n - i - 1) % 3 == 0) out += ',';
  }
  return out;
}

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

struct Run {
  std::string what;
  std::string threads;  // in words, for the table
  int thread_count = 1;
  std::uint64_t architectures = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? double(architectures) / seconds : 0.0; }
};

struct TorchResult {
  Run run;
  std::uint64_t mismatches = 0;
  std::string first_mismatch;
};

/// Builds the first `limit` architectures as LibTorch modules and counts their parameters, on
/// `workers` threads each running LibTorch with one intra-op thread. Stops early once `budget`
/// seconds have passed (after whole architectures); reports how many were done.
TorchResult run_libtorch(const std::vector<narrow::SampledArchitecture>& archs, std::size_t limit,
                         int workers, double budget) {
  TorchResult r;
  r.run.what = "LibTorch: build_module + count_parameters";
  r.run.thread_count = workers;
  r.run.threads =
      std::to_string(workers) + (workers == 1 ? " worker" : " workers") + " x 1 torch thread";
  std::atomic<std::uint64_t> done{0}, mismatches{0};
  std::atomic<bool> stop{false};
  std::mutex first_mutex;
  const auto start = Clock::now();
  auto one = [&](std::size_t i) {
    const auto& s = archs[i];
    auto module = narrow::build_module(s.architecture);
    const std::int64_t params = narrow::count_parameters(*module);
    if (params != s.metrics.params) {
      if (mismatches.fetch_add(1) == 0) {
        std::lock_guard lock(first_mutex);
        r.first_mismatch = "draw " + std::to_string(s.index) + ": LibTorch counts " +
                           std::to_string(params) + " parameters, narrow " +
                           std::to_string(s.metrics.params) + "; architecture " +
                           s.architecture.to_json_string();
      }
    }
    done.fetch_add(1);
    if (seconds_since(start) > budget) stop = true;
  };
  if (workers == 1) {
    for (std::size_t i = 0; i < limit && !stop; ++i) one(i);
  } else {
    tbb::task_arena arena(workers);
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, limit, 1), [&](const auto& range) {
        // Intra-op threads are a per-thread setting with some LibTorch backends.
        thread_local bool configured = false;
        if (!configured) {
          torch::set_num_threads(1);
          configured = true;
        }
        for (std::size_t i = range.begin(); i != range.end() && !stop; ++i) one(i);
      });
    });
  }
  r.run.seconds = seconds_since(start);
  r.run.architectures = done;
  r.mismatches = mismatches;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string space_name = "sequential";
  std::vector<std::string> space_params;
  std::string plugin_dir;
  std::uint64_t count = 200000;
  std::uint64_t torch_count = 1000;
  double torch_seconds = 15.0;
  std::uint64_t seed = 1;
  bool json = false;

  po::options_description desc(
      "narrow_bench_sampling: architectures per second of narrow sampling + shape inference +\n"
      "analytics, against building the same architectures as LibTorch modules and counting\n"
      "their parameters.\n\nOptions");
  desc.add_options()("help,h", "show this help")(
      "space", po::value(&space_name)->default_value(space_name), "search space to sample")(
      "param", po::value(&space_params)->composing(),
      "space parameter NAME=VALUE (repeatable), e.g. --param max_filters=64")(
      "count", po::value(&count)->default_value(count), "architectures narrow draws per run")(
      "torch-count", po::value(&torch_count)->default_value(torch_count),
      "architectures built with LibTorch per run (at most)")(
      "torch-seconds", po::value(&torch_seconds)->default_value(torch_seconds),
      "time budget of the one-worker LibTorch run (it stops after the architecture that "
      "crosses it); the two-worker run builds the same architectures")(
      "seed", po::value(&seed)->default_value(seed), "seed of the sampler")(
      "plugins", po::value(&plugin_dir),
      "plugin folder (default: the build's or install's plugin folder, then NARROW_PLUGIN_PATH)")(
      "json", po::bool_switch(&json), "print the results as one JSON object on stdout");

  if (const auto code = narrow::bench::read_options(kProgram, argc, argv, desc, [&] {
        if (count == 0 || torch_count == 0)
          throw narrow::InputError("--count and --torch-count must be positive");
      }))
    return *code;

  return narrow::bench::guarded(kProgram, [&] {
    narrow::Registry registry;
    narrow::PluginLoader loader(registry);
    narrow::bench::load_plugins(loader, plugin_dir);

    std::map<std::string, std::string> params;
    for (const auto& kv : space_params) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0)
        throw narrow::InputError("--param needs NAME=VALUE, got '" + kv + "'");
      params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    const auto space = registry.create_space(space_name, params);
    const narrow::SamplingLaw law = narrow::SamplingLaw::uniform(space->variables());
    const narrow::Sampler sampler(*space, law, seed);
    torch::set_num_threads(1);

    const unsigned hardware = std::thread::hardware_concurrency();
    if (!json) {
      std::cout << "narrow sampling benchmark: space '" << space_name << "' ("
                << space->variables().size() << " variables), uniform law, seed " << seed
                << "\nhost: " << hardware << " hardware threads; LibTorch " << TORCH_VERSION
                << " with " << torch::get_num_threads() << " intra-op thread\n\n"
                << std::flush;
    }

    // narrow: warm up (caches, TBB workers), then time 1 and 2 threads on the same draws.
    sampler.draw_many(std::min<std::uint64_t>(count, 5000), 2);
    std::vector<Run> narrow_runs;
    std::int64_t rejected = 0;
    for (int threads : {1, 2}) {
      const auto start = Clock::now();
      const auto records = sampler.draw_many(count, threads);
      Run r;
      r.seconds = seconds_since(start);
      r.what = "narrow: sample + shape inference + analytics + hash";
      r.thread_count = threads;
      r.threads = std::to_string(threads) + (threads == 1 ? " thread" : " threads");
      r.architectures = records.size();
      narrow_runs.push_back(r);
      rejected = 0;
      for (const auto& rec : records) rejected += rec.rejected;
    }

    // LibTorch: the first architectures of the same sequence, drawn beforehand (not timed).
    std::vector<narrow::SampledArchitecture> archs;
    archs.reserve(torch_count);
    for (std::uint64_t i = 0; i < torch_count; ++i) archs.push_back(sampler.draw(i));
    {
      auto warm = narrow::build_module(archs.front().architecture);
      (void)narrow::count_parameters(*warm);
    }
    // One worker within the time budget, then two workers on exactly the same architectures.
    std::vector<TorchResult> torch_runs;
    torch_runs.push_back(run_libtorch(archs, archs.size(), 1, torch_seconds));
    torch_runs.push_back(run_libtorch(archs, torch_runs[0].run.architectures, 2, 1e300));

    std::uint64_t mismatches = 0, checked = 0;
    std::string first_mismatch;
    for (const auto& t : torch_runs) {
      mismatches += t.mismatches;
      checked += t.run.architectures;
      if (first_mismatch.empty()) first_mismatch = t.first_mismatch;
    }
    constexpr double target = 100000.0;
    const double rate1 = narrow_runs[0].rate();

    if (json) {
      nlohmann::json j;
      j["space"] = space_name;
      j["seed"] = seed;
      j["hardware_threads"] = hardware;
      j["torch_version"] = TORCH_VERSION;
      j["torch_intra_op_threads"] = 1;
      auto runs = nlohmann::json::array();
      for (const auto& r : narrow_runs)
        runs.push_back({{"engine", "narrow"},
                        {"threads", r.thread_count},
                        {"architectures", r.architectures},
                        {"seconds", r.seconds},
                        {"per_second", r.rate()}});
      for (const auto& t : torch_runs)
        runs.push_back({{"engine", "libtorch"},
                        {"threads", t.run.thread_count},
                        {"architectures", t.run.architectures},
                        {"seconds", t.run.seconds},
                        {"per_second", t.run.rate()}});
      j["runs"] = runs;
      j["ratio_1_thread"] = rate1 / torch_runs[0].run.rate();
      j["ratio_2_threads"] = narrow_runs[1].rate() / torch_runs[1].run.rate();
      j["rejected_per_accepted"] = double(rejected) / double(count);
      j["target_per_second_1_thread"] = target;
      j["target_met"] = rate1 >= target;
      j["params_checked"] = checked;
      j["params_mismatches"] = mismatches;
      std::cout << j.dump(2) << "\n";
    } else {
      const auto row = [](const Run& r) {
        char line[256];
        std::snprintf(line, sizeof line, "%-52s %-28s %12s %9s %14s\n", r.what.c_str(),
                      r.threads.c_str(), grouped(double(r.architectures)).c_str(),
                      fixed(r.seconds, 3).c_str(), grouped(r.rate()).c_str());
        return std::string(line);
      };
      char header[256];
      std::snprintf(header, sizeof header, "%-52s %-28s %12s %9s %14s\n", "what", "threads",
                    "architectures", "seconds", "arch/s");
      std::cout << header;
      for (const auto& r : narrow_runs) std::cout << row(r);
      for (const auto& t : torch_runs) std::cout << row(t.run);
      std::cout << "\nLibTorch built draws 0.." << torch_runs[0].run.architectures - 1
                << " of the same sequence narrow drew (0.." << count - 1 << ")\n"
                << "ratio narrow / LibTorch, 1 thread each:  "
                << grouped(rate1 / torch_runs[0].run.rate()) << "x\n"
                << "ratio narrow / LibTorch, 2 threads each: "
                << grouped(narrow_runs[1].rate() / torch_runs[1].run.rate()) << "x\n"
                << "narrow scaling 1 -> 2 threads: " << fixed(narrow_runs[1].rate() / rate1, 2)
                << "x\n"
                << "invalid draws rejected per accepted architecture: "
                << fixed(double(rejected) / double(count), 3) << "\n"
                << "target narrow >= " << grouped(target)
                << " arch/s on 1 thread: " << (rate1 >= target ? "met" : "NOT met") << "\n"
                << "LibTorch parameter counts equal narrow's analytics: " << checked - mismatches
                << " of " << checked << "\n";
    }
    if (mismatches > 0) {
      std::cerr << "error: " << mismatches
                << " parameter count mismatches; first: " << first_mismatch << "\n";
      return 1;
    }
    return 0;
  });
}
