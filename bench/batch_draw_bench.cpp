// What the random strategy's units of work cost in drawing: its draws come in batches (1,000
// by default), each a call of Sampler::draw_batch that sets up its own TBB arena. Measured
// against the same draws made by one call, rounds interleaved, same threads; the draws of both
// must be the same (status and hash of each), or the program exits with 1.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "narrow/constraints.hpp"
#include "narrow/errors.hpp"
#include "narrow/registry.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"
#include "bench_support.hpp"
#include "run/loader.hpp"

namespace {

namespace po = boost::program_options;
constexpr const char* kProgram = "narrow_bench_batch_draw";
using Clock = std::chrono::steady_clock;

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const std::size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

// Every draw's status and hash, in order: what the comparison checks.
std::vector<std::string> outcome(const std::vector<narrow::Draw>& draws) {
  std::vector<std::string> out;
  out.reserve(draws.size());
  for (const auto& d : draws) out.push_back(fmt::format("{}:{}", int(d.status), d.hash));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string space_name = "sequential", plugin_dir;
  std::uint64_t count = 20000, batch = 1000, seed = 1;
  int threads = 2, rounds = 5;
  po::options_description desc(
      "narrow_bench_batch_draw: the random strategy's batched draws (one draw_batch call, and\n"
      "one TBB arena, per batch) against the same draws made by one call; rounds interleaved");
  desc.add_options()("help,h", "show this help")(
      "space", po::value(&space_name)->default_value(space_name), "search space")(
      "count", po::value(&count)->default_value(count), "draws per round")(
      "batch", po::value(&batch)->default_value(batch), "draws per batch (the strategy's 'batch')")(
      "threads", po::value(&threads)->default_value(threads), "TBB threads of every call")(
      "rounds", po::value(&rounds)->default_value(rounds), "rounds of each way, interleaved")(
      "seed", po::value(&seed)->default_value(seed), "seed of the draws")(
      "plugins", po::value(&plugin_dir), "plugin folder (default: the build's)");
  if (const auto code = narrow::bench::read_options(kProgram, argc, argv, desc, [&] {
        if (count == 0 || batch == 0 || threads < 1 || rounds < 1)
          throw narrow::InputError("--count, --batch, --threads and --rounds must be positive");
      }))
    return *code;

  return narrow::bench::guarded(kProgram, [&] {
    narrow::Registry registry;
    narrow::PluginLoader loader(registry);
    narrow::bench::load_plugins(loader, plugin_dir);
    const auto space = registry.create_space(space_name, {});
    const narrow::SamplingLaw law = narrow::SamplingLaw::uniform(space->variables());
    const narrow::Sampler sampler(*space, law, seed);
    const narrow::Constraints none;

    auto one_call = [&] { return sampler.draw_batch(0, count, none, threads); };
    auto batched = [&] {
      std::vector<narrow::Draw> all;
      all.reserve(count);
      for (std::uint64_t first = 0; first < count; first += batch) {
        auto part = sampler.draw_batch(first, std::min(batch, count - first), none, threads);
        for (auto& d : part) all.push_back(std::move(d));
      }
      return all;
    };
    const auto reference = outcome(one_call());  // also the warm-up
    if (outcome(batched()) != reference) {
      std::cerr << "narrow_bench_batch_draw: batched draws differ from one call's\n";
      return 1;
    }

    std::vector<double> t_one, t_batched;
    for (int r = 0; r < rounds; ++r) {
      auto t0 = Clock::now();
      (void)one_call();
      t_one.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      t0 = Clock::now();
      (void)batched();
      t_batched.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    const double one = median(t_one), many = median(t_batched);
    std::cout << fmt::format(
        "space '{}', {} draws per round, {} rounds interleaved, {} TBB thread{} per call\n"
        "  {:<22}{:8.1f} ms  ({:.0f} draws/s)\n"
        "  {:<22}{:8.1f} ms  ({:.0f} draws/s), {} calls\n"
        "  {:<22}{:.3f} (medians)\n",
        space_name, count, rounds, threads, threads == 1 ? "" : "s", "one call:", one * 1e3,
        count / one, fmt::format("batches of {}:", batch), many * 1e3, count / many,
        (count + batch - 1) / batch, "batched / one call:", many / one);
    return 0;
  });
}
