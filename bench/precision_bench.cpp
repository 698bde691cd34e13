// The cost of the precision analysis: one trained model evaluated on 10,000 test images in all
// 184 types T(w,t), against 184 float32 evaluations of the same (folded) model, side by side
// in one process, on one LibTorch thread. It prints both totals and their ratio.
//
// It checks what it computes and exits with 1 when a check fails:
// - every float32 evaluation of the folded model gives the same accuracy;
// - that accuracy is the trained model's own test accuracy to within one image (folding batch
//   norm changes the rounding of sums, nothing else);
// - ieee(8,23), which is float32 itself, gives the float32 accuracy exactly.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "bench_support.hpp"
#include "engine/quantized_model.hpp"
#include "engine/trainer.hpp"
#include "narrow/dataset.hpp"
#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "narrow/registry.hpp"
#include "narrow/space.hpp"
#include "run/loader.hpp"

namespace po = boost::program_options;
using namespace narrow;

namespace {
constexpr const char* kProgram = "narrow_bench_precision";
}

int main(int argc, char** argv) {
  int threads = 1, epochs = 1;
  std::string reference = "lenet5", plugin_dir;
  po::options_description opts(
      "narrow_bench_precision: a trained model evaluated in the 184 types ieee(1..8,1..23)\n"
      "against as many float32 evaluations, interleaved");
  opts.add_options()("help,h", "show this help")(
      "threads", po::value(&threads)->default_value(threads), "LibTorch threads")(
      "epochs", po::value(&epochs)->default_value(epochs), "training epochs before the analysis")(
      "reference", po::value(&reference)->default_value(reference),
      "reference model of the sequential space")(
      "plugins", po::value(&plugin_dir), "plugin folder (default: the build's)");
  if (const auto code = bench::read_options(kProgram, argc, argv, opts, [&] {
        if (threads < 1 || epochs < 1)
          throw InputError("--threads and --epochs must be at least 1");
      }))
    return *code;

  return bench::guarded(kProgram, [&] {
    Registry reg;
    PluginLoader loader(reg);
    bench::load_plugins(loader, plugin_dir);
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
    const auto images = static_cast<long long>(data->test.size());
    std::printf("precision: sequential/%s (%lld parameters after folding, test accuracy %.4f "
                "after %d epoch(s)), %lld test images, %zu formats, %d LibTorch thread(s)\n",
                reference.c_str(), static_cast<long long>(model.parameters()),
                trained.test.accuracy, epochs, images, formats.size(), threads);
    const double reference_accuracy =
        model.evaluate(data->test, data->classes, nullptr).accuracy;  // also the warm-up
    using clock = std::chrono::steady_clock;
    // Interleave: each format's evaluation next to a float32 one, so load changes hit both.
    double f32 = 0, grid = 0;
    int failures = 0;
    for (const auto& f : formats) {
      auto t0 = clock::now();
      const double a32 = model.evaluate(data->test, data->classes, nullptr).accuracy;
      auto t1 = clock::now();
      const double a = model.evaluate(data->test, data->classes, f.get()).accuracy;
      auto t2 = clock::now();
      f32 += std::chrono::duration<double>(t1 - t0).count();
      grid += std::chrono::duration<double>(t2 - t1).count();
      if (a32 != reference_accuracy && failures++ < 3)
        std::fprintf(stderr, "%s: float32 evaluation next to %s gave %.6f, first %.6f\n",
                     kProgram, f->name().c_str(), a32, reference_accuracy);
      if (f->name() == "ieee(8,23)" && a != reference_accuracy && failures++ < 3)
        std::fprintf(stderr, "%s: ieee(8,23) (float32 itself) gave %.6f, float32 %.6f\n",
                     kProgram, a, reference_accuracy);
    }
    const double one_image = 1.0 / double(images);
    if (std::fabs(reference_accuracy - trained.test.accuracy) > one_image + 1e-12) {
      ++failures;
      std::fprintf(stderr,
                   "%s: the folded float32 model's accuracy %.6f is more than one image from "
                   "the trained model's %.6f\n",
                   kProgram, reference_accuracy, trained.test.accuracy);
    }
    const double n = double(formats.size());
    std::printf("%zu float32 evaluations: %8.2f s (%.1f ms each)\n", formats.size(), f32,
                1000 * f32 / n);
    std::printf("%zu-type grid:           %8.2f s (%.1f ms each)\n", formats.size(), grid,
                1000 * grid / n);
    std::printf("ratio grid / float32:    %8.2f\n", grid / f32);
    std::printf("check: float32 accuracy %.4f in every float32 evaluation and in ieee(8,23), "
                "within one image of the trained model's: %s\n",
                reference_accuracy, failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
  });
}
