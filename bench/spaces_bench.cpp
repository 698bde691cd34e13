// Sampling throughput of every search space built with narrow, next to the sequential
// space's, measured in the same run: draws under the uniform law of each space's absolute
// bounds, each with shape inference, every metric and the content hash, on one thread.
//
// What it prints is checked: the draws counted are the records returned, and the first
// --check draws of each space are built again from their assignments and compared with what
// the sampler returned: the content hash, the parameter count, and the number of conv2d and
// linear layers (counted here from the rebuilt layer list, which the mean-layers column
// reports). A difference is printed and the program exits with 1.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/errors.hpp"
#include "narrow/metrics.hpp"
#include "run/loader.hpp"
#include "narrow/registry.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"

namespace po = boost::program_options;

namespace {
struct Rate {
  std::string space;
  std::uint64_t count = 0;
  double seconds = 0, per_second = 0, layers_mean = 0, rejected_per_accepted = 0;
  std::uint64_t checked = 0, differing = 0;
};

// conv2d and linear layers of an architecture, counted from its layer list.
std::int64_t weighted_layers(const narrow::Architecture& arch) {
  std::int64_t n = 0;
  for (const auto& l : arch.layers()) n += l.op == narrow::Op::conv2d || l.op == narrow::Op::linear;
  return n;
}

// Draws in rounds until `budget` seconds have passed (at least `min_count` draws), then checks
// the first `check` draws of the first round against architectures built again.
Rate measure(const narrow::Registry& reg, const std::string& name, double budget,
             std::uint64_t min_count, std::uint64_t seed, std::uint64_t check) {
  auto space = reg.create_space(name, {});
  const auto law = narrow::SamplingLaw::uniform(space->variables());
  Rate r{name};
  std::int64_t rejected = 0, layers = 0;
  std::vector<narrow::SampleRecord> first;
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t chunk = std::max<std::uint64_t>(1000, check);
  for (std::uint64_t round = 0;; ++round) {
    // Each round draws new architectures: its own seed, derived from the run's.
    narrow::Sampler sampler(*space, law, seed * 1000003 + round);
    auto recs = sampler.draw_many(chunk, 1);
    for (const auto& rec : recs) {
      rejected += rec.rejected;
      layers += rec.metrics.layers;
    }
    r.count += recs.size();
    if (round == 0) first = std::move(recs);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r.seconds >= budget && r.count >= min_count) break;
  }
  r.per_second = double(r.count) / r.seconds;
  r.layers_mean = double(layers) / double(r.count);
  r.rejected_per_accepted = double(rejected) / double(r.count);

  const narrow::Sampler sampler(*space, law, seed * 1000003);
  for (std::uint64_t i = 0; i < std::min<std::uint64_t>(check, first.size()); ++i) {
    const auto drawn = sampler.draw(i);
    auto arch = space->build(drawn.assignment);
    arch.finalize();
    const auto& rec = first[i];
    const std::int64_t counted = weighted_layers(arch);
    const std::int64_t params = narrow::analyse(arch).params;
    ++r.checked;
    if (arch.hash() != rec.hash || counted != rec.metrics.layers || params != rec.metrics.params) {
      if (r.differing++ < 3)
        fmt::print(stderr,
                   "narrow_bench_spaces: {} draw {}: the sampler gave hash {}, {} layers, {} "
                   "parameters; built again: hash {}, {} layers, {} parameters\n",
                   name, i, rec.hash, rec.metrics.layers, rec.metrics.params, arch.hash(),
                   counted, params);
    }
  }
  if (first.size() != chunk) {
    fmt::print(stderr, "narrow_bench_spaces: {}: asked for {} draws, got {}\n", name, chunk,
               first.size());
    ++r.differing;
  }
  return r;
}
}  // namespace

int main(int argc, char** argv) {
  double budget = 3;
  std::uint64_t seed = 1, check = 1000;
  po::options_description opts("options");
  opts.add_options()("help,h", "show this help")(
      "seconds", po::value(&budget)->default_value(budget), "time per space")(
      "seed", po::value(&seed)->default_value(seed), "sampler seed")(
      "check", po::value(&check)->default_value(check),
      "draws of each space built again and compared")("json",
                                                                     "print JSON on stdout");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    fmt::print(stderr, "narrow_bench_spaces: error: {}\n", e.what());
    return 2;
  }
  if (vm.count("help")) {
    fmt::print(
        "narrow_bench_spaces [--seconds S] [--seed N] [--check N] [--json]\n\n"
        "Architectures per second of every space (1 thread), next to sequential's.\n");
    return 0;
  }
  try {
    narrow::Registry reg;
    narrow::PluginLoader loader(reg);
    loader.load_defaults();
    auto names = reg.names(narrow::Kind::space);
    if (std::find(names.begin(), names.end(), "sequential") == names.end()) {
      fmt::print(stderr, "narrow_bench_spaces: error: the sequential space is not installed\n");
      return 1;
    }
    std::vector<Rate> rates{measure(reg, "sequential", budget, 1000, seed, check)};
    for (const auto& n : names)
      if (n != "sequential") rates.push_back(measure(reg, n, budget, 1000, seed, check));
    const double base = rates.front().per_second;
    std::uint64_t differing = 0;
    for (const auto& r : rates) differing += r.differing;
    if (vm.count("json")) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : rates)
        out.push_back({{"space", r.space},
                       {"threads", 1},
                       {"count", r.count},
                       {"seconds", r.seconds},
                       {"per_second", r.per_second},
                       {"ratio_to_sequential", r.per_second / base},
                       {"mean_layers", r.layers_mean},
                       {"rejected_per_accepted", r.rejected_per_accepted},
                       {"checked", r.checked},
                       {"differing", r.differing}});
      fmt::print("{}\n", out.dump(2));
      return differing ? 1 : 0;
    }
    fmt::print("sampling + shape inference + analytics + hash, uniform law, 1 thread, seed {}\n",
               seed);
    fmt::print("{:<12} {:>10} {:>9} {:>12} {:>10} {:>12} {:>14}\n", "space", "draws", "seconds",
               "arch/s", "vs seq", "mean layers", "rejected/acc.");
    for (const auto& r : rates)
      fmt::print("{:<12} {:>10} {:>9.2f} {:>12.0f} {:>9.2f}x {:>12.1f} {:>14.2f}{}\n", r.space,
                 r.count, r.seconds, r.per_second, r.per_second / base, r.layers_mean,
                 r.rejected_per_accepted, r.per_second >= 10000 ? "" : "   below 10,000/s");
    std::uint64_t checked = 0;
    for (const auto& r : rates) checked += r.checked;
    fmt::print("check: {} draws built again from their assignments: {}\n", checked,
               differing ? fmt::format("{} differ", differing)
                         : "the same hashes, layer and parameter counts");
    return differing ? 1 : 0;
  } catch (const narrow::Error& e) {
    fmt::print(stderr, "narrow_bench_spaces: error: {}\n", e.what());
    return e.exit_code();
  }
}
