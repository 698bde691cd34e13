// The genetic law search (strategies/genetic_law): one search of 10,000 architectures on the
// `sequential` space (input 3x32x32) on one thread, next to plain sampling of 10,000
// architectures of the same space (Sampler::draw_many, one thread) in interleaved rounds; then
// the twelve windows (decades 3 to 7 of `params`) of all five spaces on --threads threads, one
// search per thread at a time, as the strategy runs them.
//
// Checks: every round's search gives the same population, and the first window of each space
// searched again alone on this thread gives the population the parallel run gave; otherwise the
// program prints the difference and exits with 1.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench_support.hpp"
#include "law_search.hpp"
#include "narrow/constraints.hpp"
#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/parallel.hpp"
#include "narrow/registry.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"
#include "run/loader.hpp"
#include "windows.hpp"

namespace {

namespace po = boost::program_options;
namespace gl = narrow::genetic_law;
constexpr const char* kProgram = "narrow_bench_law_search";
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const std::size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

// The final population as text: what the checks compare.
std::string population_text(const gl::SearchResult& r) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& law : r.population) j.push_back(gl::scored_law_json(law));
  return j.dump();
}

struct Space {
  std::string name;
  std::unique_ptr<narrow::SearchSpace> space;
};

}  // namespace

int main(int argc, char** argv) {
  std::string plugin_dir;
  std::uint64_t seed = 1;
  int threads = 2, rounds = 3, first = 3, last = 7;
  bool no_windows = false;
  gl::Settings settings;  // the paper's: 100 + 900 laws of 10 architectures
  po::options_description desc(
      "narrow_bench_law_search: one genetic law search (n_init 100, n_steps 900, n_eval 10) on\n"
      "`sequential` next to plain sampling of as many architectures, rounds interleaved, one\n"
      "thread; then every window of every space on --threads threads");
  desc.add_options()("help,h", "show this help")(
      "rounds", po::value(&rounds)->default_value(rounds), "rounds of each, interleaved")(
      "threads", po::value(&threads)->default_value(threads), "threads of the all-windows run")(
      "first", po::value(&first)->default_value(first), "first decade of the windows")(
      "last", po::value(&last)->default_value(last), "last decade of the windows")(
      "seed", po::value(&seed)->default_value(seed), "seed of the searches and the sampler")(
      "tournament", po::value(&settings.tournament)->default_value(settings.tournament),
      "laws drawn for a tournament")(
      "mutation-rate", po::value(&settings.mutation_rate)->default_value(settings.mutation_rate),
      "probability that a variable's range moves")(
      "mutation-step", po::value(&settings.mutation_step)->default_value(settings.mutation_step),
      "largest integer move, as a fraction of the range")(
      "no-windows", po::bool_switch(&no_windows), "time the single search only")(
      "plugins", po::value(&plugin_dir), "plugin folder (default: the build's)");
  if (const auto code = narrow::bench::read_options(kProgram, argc, argv, desc, [&] {
        if (threads < 1 || rounds < 1)
          throw narrow::InputError("--threads and --rounds must be positive");
        if (settings.tournament < 2 || settings.tournament > settings.n_init ||
            !(settings.mutation_rate >= 0 && settings.mutation_rate <= 1) ||
            !(settings.mutation_step >= 0 && settings.mutation_step <= 1))
          throw narrow::InputError(
              "--tournament must be 2..100, --mutation-rate and --mutation-step 0..1");
        gl::window_grid(first, last);
      }))
    return *code;

  return narrow::bench::guarded(kProgram, [&] {
    narrow::Registry registry;
    narrow::PluginLoader loader(registry);
    narrow::bench::load_plugins(loader, plugin_dir);
    const narrow::Constraints none;
    const std::uint64_t count =
        std::uint64_t((settings.n_init + settings.n_steps) * settings.n_eval);

    // ----- One search against plain sampling, interleaved ------------------------------------
    const auto sequential = registry.create_space("sequential", {{"input", "[3,32,32]"}});
    const gl::LawEvaluator evaluator(*sequential, none, "params");
    const gl::Target target{"params", 1e5, 2e5};
    const narrow::Sampler sampler(*sequential,
                                  narrow::SamplingLaw::uniform(sequential->variables()), seed);
    std::vector<double> t_search, t_sample;
    std::string reference;
    gl::SearchResult result;
    for (int r = 0; r < rounds; ++r) {
      auto t0 = Clock::now();
      result = gl::search(evaluator, sequential->variables(), target, settings, seed);
      t_search.push_back(seconds_since(t0));
      t0 = Clock::now();
      const auto drawn = sampler.draw_many(count, 1);
      t_sample.push_back(seconds_since(t0));
      if (drawn.size() != count) {
        std::cerr << fmt::format("{}: the sampler returned {} of {} architectures\n", kProgram,
                                 drawn.size(), count);
        return 1;
      }
      const std::string text = population_text(result);
      if (r == 0) reference = text;
      if (text != reference) {
        std::cerr << fmt::format("{}: round {} of the search gave another population\n",
                                 kProgram, r + 1);
        return 1;
      }
    }
    const double search_s = median(t_search), sample_s = median(t_sample);
    const auto& best = result.population[result.best];
    std::cout << fmt::format(
        "sequential [3,32,32], params window 1e5-2e5, {} rounds interleaved, 1 thread each\n"
        "  {:<34}{:8.3f} s  ({} accepted of {} drawn, {:.0f} accepted/s)\n"
        "  {:<34}{:8.3f} s  ({} architectures, {:.0f}/s)\n"
        "  {:<34}{:.3f} (medians)\n"
        "  best law: cost {:.3f}, log10 params {:.2f} +- {:.2f}\n",
        rounds, "search (100 + 900 laws x 10):", search_s, result.accepted, result.drawn,
        double(result.accepted) / search_s, "sampling (Sampler::draw_many):", sample_s, count,
        double(count) / sample_s, "search / sampling:", search_s / sample_s, best.cost,
        best.stats.mean, best.stats.sigma);
    if (no_windows) return 0;

    // ----- Every window of every space ---------------------------------------------------------
    std::vector<Space> spaces;
    for (const std::string name : {"sequential", "resnet", "inception", "densenet", "mobilenet"})
      spaces.push_back(
          {name, registry.create_space(name, name == "sequential"
                                                 ? std::map<std::string, std::string>{{"input",
                                                                                       "[3,32,32]"}}
                                                 : std::map<std::string, std::string>{})});
    const auto windows = gl::window_grid(first, last);
    struct Job {
      std::size_t space;
      gl::Window window;
      std::uint64_t seed;
      gl::SearchResult result;
    };
    std::vector<Job> jobs;
    for (std::size_t s = 0; s < spaces.size(); ++s)
      for (const auto& w : windows)
        jobs.push_back({s, w,
                        narrow::content_seed(fmt::format("{}|{}|{}", seed, spaces[s].name, w.name)),
                        {}});
    std::vector<std::unique_ptr<gl::LawEvaluator>> evaluators;
    for (const auto& s : spaces)
      evaluators.push_back(std::make_unique<gl::LawEvaluator>(*s.space, none, "params"));
    auto run = [&](Job& job) {
      const auto& s = spaces[job.space];
      job.result = gl::search(*evaluators[job.space], s.space->variables(),
                              {"params", job.window.low, job.window.high}, settings, job.seed);
    };
    const auto t0 = Clock::now();
    narrow::parallel_chunks(jobs.size(), 1, threads, [&](std::uint64_t b, std::uint64_t e) {
      for (std::uint64_t i = b; i < e; ++i) run(jobs[i]);
    });
    const double total = seconds_since(t0);
    std::cout << fmt::format("{} windows x {} spaces, {} thread{}, one search per thread:\n",
                             windows.size(), spaces.size(), threads, threads == 1 ? "" : "s");
    for (std::size_t s = 0; s < spaces.size(); ++s) {
      double seconds = 0, worst = 0, sum = 0;
      int finite = 0;
      std::int64_t drawn = 0, accepted = 0;
      for (const auto& job : jobs)
        if (job.space == s) {
          seconds += job.result.seconds;
          drawn += job.result.drawn;
          accepted += job.result.accepted;
          const double cost = job.result.population[job.result.best].cost;
          worst = std::max(worst, cost);
          if (std::isfinite(cost)) {
            sum += cost;
            ++finite;
          }
        }
      std::cout << fmt::format(
          "  {:<11} {:6.2f} s of searches, {:>7} accepted of {:>7} drawn, best cost: mean {:.3f} "
          "({} windows), worst {:.3f}\n",
          spaces[s].name, seconds, accepted, drawn, finite ? sum / finite : 0.0, finite, worst);
    }
    std::cout << fmt::format("  total {:.2f} s wall clock\n", total);

    // The first window of each space again, alone on this thread: the same population.
    for (auto& job : jobs) {
      if (job.window.name != windows.front().name) continue;
      Job again = job;
      run(again);
      if (population_text(again.result) != population_text(job.result)) {
        std::cerr << fmt::format("{}: {} {}: the search alone gave another population than in "
                                 "the parallel run\n",
                                 kProgram, spaces[job.space].name, job.window.name);
        return 1;
      }
    }
    std::cout << "  check: the first window of each space searched again alone: same laws\n";
    return 0;
  });
}
