// The Monte Carlo search (strategies/monte_carlo) synchronous against asynchronous on this
// machine, side by side in one process, rounds interleaved: the same search (a `sequential`
// space at Fashion-MNIST size, random, traction and full samples on a training subset) with
// one worker and with two, on a training service of two jobs x one LibTorch thread, and the
// synchronous one on a service of one job as well (nothing at once at all). Prints the wall time
// of each, the ratios, and how busy the service's job slots were (the samples differ between
// configurations, and so do their costs: the busy share compares the dispatch alone). Each
// configuration must give the same samples in every round (the
// search is deterministic whatever the timing); the program exits 1 otherwise.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "bench_support.hpp"
#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/registry.hpp"
#include "narrow/training.hpp"
#include "run/torch_engine.hpp"
#include "search.hpp"

namespace po = boost::program_options;
using namespace narrow;
using namespace narrow::strategies;

namespace {

constexpr const char* kProgram = "narrow_bench_monte_carlo";

struct Config {
  const char* name = "";
  int workers = 1;       // of the search
  int service_jobs = 1;  // of the training service
  double seconds = 0, training = 0;  // wall; and summed over jobs, in training loops
  std::vector<std::string> samples;  // hashes of the first round
  bool same = true;
};

struct Options {
  int images = 3000, traction_iterations = 30, epochs = 1, random = 4, traction = 12, full = 4,
      rounds = 2;
};

double run_once(const Registry& reg, const SearchSpace& space, const Options& o, Config& c,
                std::vector<std::string>& hashes) {
  SearchSettings st;
  st.random = o.random;
  st.traction = o.traction;
  st.full = o.full;
  st.workers = c.workers;
  MonteCarloSearch search(space, {SamplingLaw::uniform(space.variables())}, {}, st, 7);
  auto service = torch_engine().local_scheduler(reg, c.service_jobs, 1);
  DatasetSpec data;
  data.name = "idx";
  data.parameters = {{"train_size", std::to_string(o.images)}, {"test_size", "1000"}};
  data.seed = 1;
  TrainingConfig full;
  full.epochs = o.epochs;
  full.batch_size = 64;
  TrainingConfig traction = full;
  traction.iterations = o.traction_iterations;
  const auto t0 = std::chrono::steady_clock::now();
  search.decide_draws_ahead(1);
  train_samples(
      search, *service,
      [&](const Sample& s) {
        return sample_job(s, data, s.phase == Phase::full ? full : traction, 7, false, reg);
      },
      [](const TrainJob&) { return std::optional<TrainResult>(); },
      [&](const Sample&, const TrainJob&, const TrainResult& r, bool) { c.training += r.seconds; });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  hashes.clear();
  for (const auto& s : search.samples()) hashes.push_back(s.draw.hash);
  return seconds;
}

int run_all(const Options& o) {
  Registry reg;
  PluginLoader(reg).load_defaults();
  auto space = reg.create_space("sequential", {{"input", "[1,28,28]"},
                                               {"max_conv_layers", "3"},
                                               {"max_fc_layers", "1"},
                                               {"max_filters", "32"},
                                               {"max_units", "64"}});
  DatasetSpec data;
  data.name = "idx";
  data.parameters = {{"train_size", std::to_string(o.images)}, {"test_size", "1000"}};
  data.seed = 1;
  (void)load_dataset(reg, data);  // read once, outside the timings
  std::printf("monte_carlo: %d random + %d traction (%d batches) + %d full (%d epoch%s) samples, "
              "%d training images, batch 64, one LibTorch thread per job, %u hardware threads\n",
              o.random, o.traction, o.traction_iterations, o.full, o.epochs,
              o.epochs == 1 ? "" : "s", o.images, std::max(1u, std::thread::hardware_concurrency()));
  std::vector<Config> configs(3);
  configs[0].name = "synchronous, service of 1 job";
  configs[0].workers = configs[0].service_jobs = 1;
  configs[1].name = "synchronous, service of 2 jobs";
  configs[1].workers = 1;
  configs[1].service_jobs = 2;
  configs[2].name = "asynchronous, 2 workers";
  configs[2].workers = configs[2].service_jobs = 2;
  for (int round = 0; round < o.rounds; ++round) {
    // Interleaved, the order turned each round.
    for (std::size_t n = 0; n < configs.size(); ++n) {
      Config& c = configs[round % 2 == 0 ? n : configs.size() - 1 - n];
      std::vector<std::string> hashes;
      const double s = run_once(reg, *space, o, c, hashes);
      c.seconds += s;
      if (c.samples.empty())
        c.samples = hashes;
      else if (c.samples != hashes)
        c.same = false;
      std::printf("  round %d %-32s %7.1f s\n", round + 1, c.name, s);
      std::fflush(stdout);
    }
  }
  const int trainings = o.random + o.traction + o.full;
  std::printf("\n%-34s %10s %14s %14s %10s\n", "configuration", "seconds", "trainings/h",
              "async faster", "busy");
  bool same = true;
  for (const auto& c : configs) {
    const double per_round = c.seconds / o.rounds;
    // The share of the service's job slots spent in training loops (evaluation excluded): what
    // asynchrony raises, whatever the samples cost.
    std::printf("%-34s %10.1f %14.0f %13.2fx %9.0f%%\n", c.name, per_round,
                3600.0 * trainings / per_round, c.seconds / configs[2].seconds,
                100.0 * c.training / (c.seconds * c.service_jobs));
    same = same && c.same;
  }
  std::printf("same samples in every round: %s\n", same ? "yes" : "NO");
  return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  po::options_description opts(
      "narrow_bench_monte_carlo: the Monte Carlo search, synchronous against asynchronous");
  opts.add_options()("help,h", "show this help")(
      "images", po::value(&o.images)->default_value(o.images), "training images (Fashion-MNIST)")(
      "traction-iterations", po::value(&o.traction_iterations)->default_value(o.traction_iterations),
      "batches of a random or traction training")(
      "epochs", po::value(&o.epochs)->default_value(o.epochs), "epochs of a full training")(
      "random", po::value(&o.random)->default_value(o.random), "random samples")(
      "traction", po::value(&o.traction)->default_value(o.traction), "traction samples")(
      "full", po::value(&o.full)->default_value(o.full), "fully trained samples")(
      "rounds", po::value(&o.rounds)->default_value(o.rounds),
      "repeat the configurations this many times, interleaved");
  if (const auto code = bench::read_options(kProgram, argc, argv, opts, [&] {
        if (o.images < 1 || o.traction_iterations < 1 || o.epochs < 1 || o.random < 1 ||
            o.traction < 0 || o.full < 1 || o.rounds < 1)
          throw InputError("every count must be at least 1 (--traction at least 0)");
      }))
    return *code;
  return bench::guarded(kProgram, [&] { return run_all(o); });
}
