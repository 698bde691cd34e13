// The cost of the precision analysis: one trained model evaluated on 10,000 test images in all
// 184 types T(w,t), against 184 float32 evaluations of the same (folded) model, side by side
// in one process, on one LibTorch thread. It prints both totals and their ratio.
//
// It checks what it computes and exits with 1 when a check fails:
// - every float32 evaluation of the folded model gives the same accuracy;
// - that accuracy is the trained model's own test accuracy to within one image (folding batch
//   norm changes the rounding of sums, nothing else);
// - ieee(8,23), which is float32 itself, gives the float32 accuracy exactly.
// Then int8 with static ranges (its calibration on 512 training images included) against
// int8(dynamic) (each image's own ranges), rounds interleaved; static results must be the
// same in every round.
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
  int threads = 1, epochs = 1, int8_rounds = 5;
  std::string reference = "lenet5", plugin_dir, grid_spec = "ieee(1..8,1..23)";
  po::options_description opts(
      "narrow_bench_precision: a trained model evaluated in the 184 types ieee(1..8,1..23)\n"
      "against as many float32 evaluations, interleaved");
  opts.add_options()("help,h", "show this help")(
      "threads", po::value(&threads)->default_value(threads), "LibTorch threads")(
      "epochs", po::value(&epochs)->default_value(epochs), "training epochs before the analysis")(
      "reference", po::value(&reference)->default_value(reference),
      "reference model of the sequential space")(
      "plugins", po::value(&plugin_dir), "plugin folder (default: the build's)")(
      "grid", po::value(&grid_spec)->default_value(grid_spec),
      "the formats evaluated against float32 (ranges allowed)")(
      "int8-rounds", po::value(&int8_rounds)->default_value(int8_rounds),
      "rounds of static int8 against int8(dynamic)");
  if (const auto code = bench::read_options(kProgram, argc, argv, opts, [&] {
        if (threads < 1 || epochs < 1 || int8_rounds < 1)
          throw InputError("--threads, --epochs and --int8-rounds must be at least 1");
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
    for (const auto& f : expand_format_spec(grid_spec))
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
    bool has_float32_type = false;
    for (const auto& f : formats) has_float32_type |= f->name() == "ieee(8,23)";
    std::printf("check: float32 accuracy %.4f in every float32 evaluation%s, within one image "
                "of the trained model's: %s\n",
                reference_accuracy, has_float32_type ? " and in ieee(8,23)" : "",
                failures ? "FAILED" : "ok");

    // int8: static ranges (calibrated each round, as the analysis does once per model) against
    // per-image ranges.
    const auto int8_static = create_format(reg, "int8");
    const auto int8_dynamic = create_format(reg, "int8(dynamic)");
    double t_static = 0, t_dynamic = 0, a_static = -1, a_dynamic = 0;
    int int8_failures = 0;
    for (int r = 0; r < int8_rounds; ++r) {
      auto t0 = clock::now();
      const QuantizedModel::Ranges ranges =
          model.calibrate(data->train, int8_static->calibration_images());
      const double a = model.evaluate(data->test, data->classes, int8_static.get(), {}, 500,
                                      &ranges).accuracy;
      auto t1 = clock::now();
      a_dynamic = model.evaluate(data->test, data->classes, int8_dynamic.get()).accuracy;
      auto t2 = clock::now();
      t_static += std::chrono::duration<double>(t1 - t0).count();
      t_dynamic += std::chrono::duration<double>(t2 - t1).count();
      if (a_static >= 0 && a != a_static && int8_failures++ < 3)
        std::fprintf(stderr, "%s: static int8 gave %.6f in round %d, %.6f before\n", kProgram,
                     a, r + 1, a_static);
      a_static = a;
    }
    std::printf("int8, static (calibration included): %8.2f s (%.1f ms each), accuracy %.4f, "
                "%lld bytes\n",
                t_static, 1000 * t_static / int8_rounds, a_static,
                static_cast<long long>(model.stored_bytes(int8_static.get())));
    std::printf("int8(dynamic):                        %8.2f s (%.1f ms each), accuracy %.4f, "
                "%lld bytes\n",
                t_dynamic, 1000 * t_dynamic / int8_rounds, a_dynamic,
                static_cast<long long>(model.stored_bytes(int8_dynamic.get())));
    std::printf("ratio static / dynamic:  %8.2f\n", t_static / t_dynamic);
    std::printf("check: static int8 gives the same accuracy in all %d rounds: %s\n", int8_rounds,
                int8_failures ? "FAILED" : "ok");
    return failures || int8_failures ? 1 : 0;
  });
}
