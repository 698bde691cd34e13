// How long a channel search epoch takes against a training epoch of its seed.
//
// Model: the `resnet` space's `resnet8` at Fashion-MNIST size (1x28x28, 10 classes). Data: the
// first --images images of Fashion-MNIST's training set (Debian's dataset-fashion-mnist).
// The seed first trains one epoch (the warm-up, not timed); then, for --rounds rounds in
// alternating order, from those weights:
//   training: train_model for --epochs epochs (what a training of the seed costs);
//   search:   search_channels for --epochs epochs under a target of 20 % of the seed's
//             deployed bytes: masks in the forward pass, the cost penalty, and after the last
//             epoch the export (fit to the target, weights copied, evaluation).
// Both report their training-loop seconds (evaluation excluded), and their wall time with the
// validation after every epoch and the final evaluations (the search's adds the export). Every job runs on --threads LibTorch threads in this one process, one at a time.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "bench_support.hpp"
#include "engine/channel_search.hpp"
#include "engine/trainer.hpp"
#include "narrow/channel_search.hpp"
#include "narrow/dataset.hpp"
#include "narrow/errors.hpp"
#include "narrow/registry.hpp"
#include "narrow/space.hpp"
#include "run/loader.hpp"

namespace {

namespace po = boost::program_options;
using namespace narrow;
constexpr const char* kProgram = "narrow_bench_dnas";
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int run_all(int images, int epochs, int rounds, int threads, const std::string& plugins) {
  Registry reg;
  PluginLoader loader(reg);
  bench::load_plugins(loader, plugins);
  auto space = reg.create_space("resnet", {{"input", "1,28,28"}, {"classes", "10"}});
  Architecture seed = space->build(space->reference("resnet8"));
  seed.finalize();

  TrainJob job;
  job.architecture_hash = seed.hash();
  job.architecture_json = seed.to_json_string();
  job.dataset.name = "idx";
  job.dataset.parameters = {{"train_size", std::to_string(images)}, {"test_size", "2000"}};
  job.dataset.seed = 1;
  job.config.batch_size = 64;
  job.seed = 7;
  const auto data = load_dataset(reg, job.dataset);  // read once, outside the timings

  // The warm-up: one epoch from the seed's own initialisation.
  job.config.epochs = 1;
  const TrainResult warm = train_model(seed, *data, job.config, job.seed, threads, true, {});
  job.config.epochs = epochs;
  job.init_weights = warm.weights;
  ChannelSearch search;
  search.targets.push_back(
      CostTarget{"deployed_bytes", 0.2 * channel_cost("deployed_bytes", seed, nullptr, nullptr),
                 0.1});
  TrainJob searching = job;
  searching.search = search;

  std::cout << fmt::format(
      "{}: resnet8 on {} Fashion-MNIST images, {} epoch{} per job, {} LibTorch thread{}, {} "
      "rounds in alternating order\n",
      kProgram, images, epochs, epochs == 1 ? "" : "s", threads, threads == 1 ? "" : "s", rounds);
  std::vector<double> ratios, totals;
  for (int r = 0; r < rounds; ++r) {
    double train_s = 0, train_total = 0, search_s = 0, search_total = 0;
    auto time_training = [&] {
      TrainingExtras extras;
      extras.init_weights = job.init_weights;
      const auto start = Clock::now();
      train_s = train_model(seed, *data, job.config, job.seed, threads, false, {}, nullptr, &extras)
                    .seconds;
      train_total = std::chrono::duration<double>(Clock::now() - start).count();
    };
    auto time_search = [&] {
      const auto start = Clock::now();
      const TrainResult s = search_channels(reg, searching, *data, threads, {});
      search_total = std::chrono::duration<double>(Clock::now() - start).count();
      search_s = s.seconds;
    };
    if (r % 2 == 0) {
      time_training();
      time_search();
    } else {
      time_search();
      time_training();
    }
    ratios.push_back(search_s / train_s);
    totals.push_back(search_total / train_total);
    std::cout << fmt::format(
        "round {}: training {:.2f} s ({:.2f} s with its evaluations), search {:.2f} s ({:.2f} s "
        "with its evaluations and the export): search / training {:.2f}x ({:.2f}x)\n",
        r + 1, train_s, train_total, search_s, search_total, ratios.back(), totals.back());
  }
  std::cout << fmt::format(
      "median: a search epoch takes {:.2f}x a training epoch of the seed ({:.2f}x with the "
      "evaluations of both and the export)\n",
      median(ratios), median(totals));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int images = 5000, epochs = 2, rounds = 3, threads = 1;
  std::string plugins;
  po::options_description opts(
      "narrow_bench_dnas: a channel search epoch against a training epoch of its seed");
  opts.add_options()("help,h", "show this help")(
      "images", po::value(&images)->default_value(images), "training images (Fashion-MNIST)")(
      "epochs", po::value(&epochs)->default_value(epochs), "epochs of each job")(
      "rounds", po::value(&rounds)->default_value(rounds), "rounds, alternating the order")(
      "threads", po::value(&threads)->default_value(threads), "LibTorch threads of each job")(
      "plugins", po::value(&plugins)->default_value(""),
      "plugin folder (default: the build's or install's)");
  if (const auto code = bench::read_options(kProgram, argc, argv, opts, [&] {
        if (images < 100 || epochs < 1 || rounds < 1 || threads < 1)
          throw InputError("--images must be at least 100, --epochs, --rounds and --threads at "
                           "least 1");
      }))
    return *code;
  return bench::guarded(kProgram, [&] { return run_all(images, epochs, rounds, threads, plugins); });
}
