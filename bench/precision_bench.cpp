// The cost of the precision analysis: one trained model evaluated on 10,000 test images in all
// 184 types T(w,t), against 184 float32 evaluations of the same (folded) model, side by side
// in one process, on one LibTorch thread. The bound is a ratio of at most 1.5.
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include <boost/program_options.hpp>

#include "narrow/dataset.hpp"
#include "narrow/format.hpp"
#include "run/loader.hpp"
#include "engine/quantized_model.hpp"
#include "narrow/registry.hpp"
#include "narrow/space.hpp"
#include "engine/trainer.hpp"

namespace po = boost::program_options;
using namespace narrow;

int main(int argc, char** argv) {
  int threads = 1, epochs = 1;
  std::string reference = "lenet5";
  po::options_description opts("options");
  opts.add_options()("help,h", "show this help")(
      "threads", po::value(&threads)->default_value(threads), "LibTorch threads")(
      "epochs", po::value(&epochs)->default_value(epochs), "training epochs before the analysis")(
      "reference", po::value(&reference)->default_value(reference),
      "reference model of the sequential space");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, opts), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::printf("usage: narrow_bench_precision [--threads T] [--epochs N] [--reference R]\n");
    return 0;
  }
  Registry reg;
  PluginLoader loader(reg);
  loader.load_defaults();
  DatasetSpec spec;
  spec.parameters = {{"train_size", "10000"}};
  spec.seed = 1;
  const auto data = load_dataset(reg, spec);
  auto space = reg.create_space("sequential", {});
  Architecture arch = space->build(space->reference(reference));
  arch.finalize();
  TrainingConfig config;
  config.epochs = epochs;
  GraphModule module(nullptr);
  const TrainResult trained = train_model(arch, *data, config, 1, threads, false, {}, &module);
  at::set_num_threads(threads);
  const QuantizedModel model(arch, module);
  std::vector<std::unique_ptr<NumberFormat>> formats;
  for (const auto& f : expand_format_spec("ieee(1..8,1..23)"))
    formats.push_back(create_format(reg, f));
  std::printf("precision: sequential/%s (%lld parameters after folding, test accuracy %.4f after "
              "%d epoch(s)), %lld test images, %zu formats, %d LibTorch thread(s)\n",
              reference.c_str(), static_cast<long long>(model.parameters()),
              trained.test.accuracy, epochs, static_cast<long long>(data->test.size()),
              formats.size(), threads);
  (void)model.evaluate(data->test, data->classes, nullptr);  // warm-up
  using clock = std::chrono::steady_clock;
  // Interleave: each format's evaluation next to a float32 one, so load changes hit both.
  double f32 = 0, grid = 0;
  double checksum = 0;
  for (const auto& f : formats) {
    auto t0 = clock::now();
    checksum += model.evaluate(data->test, data->classes, nullptr).accuracy;
    auto t1 = clock::now();
    checksum += model.evaluate(data->test, data->classes, f.get()).accuracy;
    auto t2 = clock::now();
    f32 += std::chrono::duration<double>(t1 - t0).count();
    grid += std::chrono::duration<double>(t2 - t1).count();
  }
  std::printf("184 float32 evaluations: %8.2f s (%.1f ms each)\n", f32, 1000 * f32 / 184);
  std::printf("184-type grid:           %8.2f s (%.1f ms each)\n", grid, 1000 * grid / 184);
  std::printf("ratio grid / float32:    %8.2f   (bound: 1.5)   [checksum %.4f]\n", grid / f32,
              checksum);
  return 0;
}
