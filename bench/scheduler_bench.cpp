// The local scheduler on this machine: 8 small models trained on a Fashion-MNIST subset, as
// jobs per hour, with J jobs at once x T LibTorch threads each, side by side in one process:
// J=2,T=1 and J=1,T=2 against one job at a time (J=1,T=1). Results must not depend on J: the
// benchmark checks that the J=2,T=1 and J=1,T=1 runs give identical results, and exits 1
// otherwise.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "bench_support.hpp"
#include "narrow/architecture.hpp"
#include "narrow/errors.hpp"
#include "narrow/dataset.hpp"
#include "narrow/registry.hpp"
#include "narrow/training.hpp"
#include "run/loader.hpp"
#include "run/torch_engine.hpp"

namespace po = boost::program_options;
using namespace narrow;

namespace {

// conv(c1) relu maxpool conv(c2) relu maxpool [linear(u) relu] linear(10), for 1x28x28.
std::string arch_json(int c1, int c2, int units) {
  std::string hidden;
  std::string last = "flat";
  if (units > 0) {
    hidden = fmt::format(
        R"(,{{"id": "fc1", "op": "linear", "inputs": ["flat"], "out_features": {}}},
           {{"id": "fc1r", "op": "relu", "inputs": ["fc1"]}})",
        units);
    last = "fc1r";
  }
  return fmt::format(R"({{"input": [1, 28, 28], "classes": 10, "output": "fc", "layers": [
    {{"id": "c1", "op": "conv2d", "inputs": ["input"], "out_channels": {}, "kernel": 3, "padding": 1}},
    {{"id": "r1", "op": "relu", "inputs": ["c1"]}},
    {{"id": "p1", "op": "maxpool", "inputs": ["r1"], "kernel": 2}},
    {{"id": "c2", "op": "conv2d", "inputs": ["p1"], "out_channels": {}, "kernel": 3, "padding": 1}},
    {{"id": "r2", "op": "relu", "inputs": ["c2"]}},
    {{"id": "p2", "op": "maxpool", "inputs": ["r2"], "kernel": 2}},
    {{"id": "flat", "op": "flatten", "inputs": ["p2"]}}{},
    {{"id": "fc", "op": "linear", "inputs": ["{}"], "out_features": 10}}]}})",
                     c1, c2, hidden, last);
}

struct Outcome {
  double seconds = 0;
  std::map<std::string, std::string> results;  // key -> result without times
};

Outcome run(const Registry& reg, const std::vector<TrainJob>& jobs, int j, int t) {
  auto service = torch_engine().local_scheduler(reg, j, t);
  Outcome o;
  const auto t0 = std::chrono::steady_clock::now();
  service->run(jobs, [&](const TrainResult& r) {
    auto x = r.to_json();
    x.erase("seconds");
    x.erase("images_per_second");
    x.erase("threads");
    for (auto& e : x["history"]) e.erase("seconds");
    o.results[r.key] = x.dump() + std::to_string(std::hash<std::string>{}(r.weights));
  });
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return o;
}

constexpr const char* kProgram = "narrow_bench_scheduler";
int run_all(int images, int epochs, int rounds);

}  // namespace

int main(int argc, char** argv) {
  int images = 4000, epochs = 2, rounds = 1;
  po::options_description opts(
      "narrow_bench_scheduler: 8 small models trained with J jobs x T LibTorch threads");
  opts.add_options()("help,h", "show this help")(
      "images", po::value(&images)->default_value(images), "training images (Fashion-MNIST)")(
      "epochs", po::value(&epochs)->default_value(epochs), "epochs per model")(
      "rounds", po::value(&rounds)->default_value(rounds),
      "repeat the three configurations this many times, interleaved");
  if (const auto code = bench::read_options(kProgram, argc, argv, opts, [&] {
        if (images < 1 || epochs < 1 || rounds < 1)
          throw InputError("--images, --epochs and --rounds must be at least 1");
      }))
    return *code;
  return bench::guarded(kProgram, [&] { return run_all(images, epochs, rounds); });
}

namespace {

int run_all(int images, int epochs, int rounds) {
  Registry reg;
  PluginLoader(reg).load_defaults();  // the datasets
  const std::vector<std::array<int, 3>> shapes = {{4, 8, 0},  {8, 8, 16},  {8, 16, 0},
                                                  {12, 16, 32}, {16, 16, 0}, {16, 24, 16},
                                                  {24, 24, 0}, {24, 32, 32}};
  std::vector<TrainJob> jobs;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const auto& s = shapes[i];
    const Architecture a = Architecture::from_json_string(arch_json(s[0], s[1], s[2]));
    TrainJob job;
    job.architecture_hash = a.hash();
    job.architecture_json = a.to_json_string();
    job.dataset.name = "idx";
    job.dataset.parameters = {{"train_size", std::to_string(images)}, {"test_size", "2000"}};
    job.dataset.seed = 1;
    job.config.epochs = epochs;
    job.config.batch_size = 64;
    job.seed = 10 + i;
    job.keep_weights = true;
    job.make_key(reg);
    jobs.push_back(job);
  }
  (void)load_dataset(reg, jobs.front().dataset);  // read once, outside the timings
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::printf("scheduler: %zu models (2 conv + 0..1 hidden fc), %d training images, %d epochs, "
              "batch 64, %u hardware threads\n",
              jobs.size(), images, epochs, cores);
  struct Config {
    const char* name;
    int j, t;
    double seconds = 0;
  };
  std::vector<Config> configs = {{"one job at a time (J=1,T=1)", 1, 1},
                                 {"J=1,T=2", 1, 2},
                                 {"J=2,T=1", 2, 1}};
  std::map<std::string, std::string> reference;
  bool same = true;
  for (int round = 0; round < rounds; ++round)
    for (auto& c : configs) {
      const Outcome o = run(reg, jobs, c.j, c.t);
      c.seconds += o.seconds;
      std::printf("  round %d %-28s %7.1f s\n", round + 1, c.name, o.seconds);
      std::fflush(stdout);
      if (c.t == 1) {
        if (reference.empty())
          reference = o.results;
        else if (o.results != reference)
          same = false;
      }
    }
  const double base = configs[0].seconds;
  std::printf("\n%-30s %10s %12s %10s\n", "configuration", "seconds", "jobs/hour", "vs J=1,T=1");
  for (const auto& c : configs) {
    const double per_round = c.seconds / rounds;
    std::printf("%-30s %10.1f %12.0f %9.2fx\n", c.name, per_round,
                3600.0 * double(jobs.size()) / per_round, base / c.seconds);
  }
  std::printf("results identical with J=1 and J=2 (T=1): %s\n", same ? "yes" : "NO");
  return same ? 0 : 1;
}

}  // namespace
