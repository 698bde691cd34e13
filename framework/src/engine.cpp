// The LibTorch engine the kernel loads on demand: one-job training and the local scheduler.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include "narrow/architecture.hpp"
#include "narrow/dataset.hpp"
#include "narrow/errors.hpp"
#include "narrow/latency.hpp"
#include "narrow/metrics.hpp"
#include "narrow/precision.hpp"
#include "narrow/trainer.hpp"
#include "narrow/training.hpp"

namespace narrow {

namespace {

TrainResult train_job(const Registry& registry, const TrainJob& job, int threads,
                      const std::function<void(const EpochRecord&)>& on_epoch) {
  const auto data = load_dataset(registry, job.dataset);
  const Architecture arch = Architecture::from_json_string(job.architecture_json);
  check_fits(arch, *data);
  TrainResult r =
      train_model(arch, *data, job.config, job.seed, threads, job.keep_weights, on_epoch);
  r.key = job.key;
  r.architecture_hash = job.architecture_hash;
  return r;
}

/// A trained model ready to evaluate: its data (which it must fit), its architecture, and its
/// module with the weights loaded, LibTorch set to `threads` threads.
struct Trained {
  std::shared_ptr<const PreparedData> data;
  Architecture arch;
  GraphModule module{nullptr};
};
Trained load_trained(const Registry& registry, const std::string& architecture_json,
                     const std::string& weights, const DatasetSpec& dataset, int threads) {
  Trained t;
  t.data = load_dataset(registry, dataset);
  t.arch = Architecture::from_json_string(architecture_json);
  check_fits(t.arch, *t.data);
  at::set_num_threads(std::max(1, threads));
  t.module = build_module(t.arch);
  try {
    load_weights(t.module, weights);
  } catch (const InputError&) {
    throw;
  } catch (const Error& e) {
    throw InputError(e.what());  // weights of another model: bad input
  }
  return t;
}

/// Runs J jobs at once on a TBB arena, each with T LibTorch threads. The calling thread takes
/// part in the arena, so J jobs need J - 1 TBB workers.
class LocalScheduler final : public TrainingService {
 public:
  LocalScheduler(const Registry& registry, int jobs, int threads)
      : registry_(registry), jobs_(jobs), threads_(threads) {}
  int jobs() const override { return jobs_; }
  int threads_per_job() const override { return threads_; }

  void run(const std::vector<TrainJob>& jobs,
           const std::function<void(const TrainResult&)>& on_result) override {
    if (jobs.empty()) return;
    const int concurrency = std::min<int>(jobs_, static_cast<int>(jobs.size()));
    tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                              std::max<std::size_t>(concurrency, 2));
    tbb::task_arena arena(concurrency);
    std::mutex result_mutex;
    std::atomic<bool> stop{false};
    std::exception_ptr error;
    // Longest first (by MACs, a proxy of a training's cost): the last jobs to finish are
    // short, so fewer workers idle at the end. Results do not depend on the order.
    std::vector<std::size_t> order(jobs.size());
    std::vector<std::int64_t> cost(jobs.size(), 0);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      order[i] = i;
      try {
        cost[i] = analyse(Architecture::from_json_string(jobs[i].architecture_json)).macs;
      } catch (const Error&) {
        cost[i] = 0;  // reported when the job runs
      }
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
    // `concurrency` workers take jobs in that order from a shared counter; none starts after
    // an error.
    std::atomic<std::size_t> next{0};
    arena.execute([&] {
      tbb::task_group group;
      for (int w = 0; w < concurrency; ++w) {
        group.run([&] {
          for (std::size_t i; !stop.load() && (i = next.fetch_add(1)) < jobs.size();) {
            try {
              TrainResult r = train_job(registry_, jobs[order[i]], threads_, {});
              std::lock_guard lock(result_mutex);
              if (!stop.load()) on_result(r);
            } catch (...) {
              std::lock_guard lock(result_mutex);
              if (!error) error = std::current_exception();
              stop.store(true);
            }
          }
        });
      }
      group.wait();
    });
    if (error) std::rethrow_exception(error);
  }

 private:
  const Registry& registry_;
  int jobs_, threads_;
};

class Engine final : public TorchEngine {
 public:
  std::unique_ptr<TrainingService> local_scheduler(const Registry& registry, int jobs,
                                                   int threads) override {
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    if (jobs <= 0 && threads <= 0) jobs = cores;
    if (jobs <= 0) jobs = std::max(1, cores / threads);
    if (threads <= 0) threads = std::max(1, cores / jobs);
    return std::make_unique<LocalScheduler>(registry, jobs, threads);
  }

  TrainResult train(const Registry& registry, const TrainJob& job,
                    const std::function<void(const EpochRecord&)>& on_epoch) override {
    return train_job(registry, job, std::max(1, job.threads), on_epoch);
  }

  std::pair<Evaluation, Evaluation> evaluate(const Registry& registry,
                                             const std::string& architecture_json,
                                             const std::string& weights,
                                             const DatasetSpec& dataset, int threads) override {
    const Trained t = load_trained(registry, architecture_json, weights, dataset, threads);
    const auto& data = t.data;
    GraphModule module = t.module;
    return {narrow::evaluate(module, data->validation, data->classes),
            narrow::evaluate(module, data->test, data->classes)};
  }

  std::vector<PrecisionResult> precision(
      const Registry& registry, const std::string& architecture_json, const std::string& weights,
      const DatasetSpec& dataset, const std::string& split,
      const std::vector<const NumberFormat*>& formats, const RoundingOptions& rounding,
      int threads, const std::function<void(const PrecisionResult&)>& on_result) override {
    if (split != "test" && split != "validation")
      throw InputError("the split must be 'test' or 'validation', not '" + split + "'");
    for (const NumberFormat* f : formats) {
      const auto modes = f->roundings();
      if (std::find(modes.begin(), modes.end(), rounding.mode) == modes.end())
        throw InputError(fmt::format("format '{}' does not support rounding '{}'", f->name(),
                                     rounding_name(rounding.mode)));
    }
    const Trained t = load_trained(registry, architecture_json, weights, dataset, threads);
    const auto& data = t.data;
    const Architecture& arch = t.arch;
    GraphModule module = t.module;
    const QuantizedModel model(arch, module);
    const ImageSet& set = split == "test" ? data->test : data->validation;
    std::vector<PrecisionResult> out;
    auto one = [&](const NumberFormat* f) {
      const auto t0 = std::chrono::steady_clock::now();
      PrecisionResult r;
      r.format = f ? f->name() : "float32";
      r.bits = f ? f->bits() : 32;
      r.parameters = model.parameters();
      r.weight_bytes = weight_bytes_for(r.parameters, r.bits);
      r.evaluation = model.evaluate(set, data->classes, f, rounding);
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (on_result) on_result(r);
      out.push_back(std::move(r));
    };
    one(nullptr);
    for (const NumberFormat* f : formats) one(f);
    return out;
  }

  LatencyMeasurement measure_latency(const std::string& architecture_json,
                                     const LatencyOptions& options) override {
    return narrow::measure_latency(architecture_json, options);
  }
};

}  // namespace

}  // namespace narrow

/// The entry point the kernel looks up in this library (narrow::torch_engine()).
extern "C" NARROW_API narrow::TorchEngine* narrow_torch_engine() {
  static narrow::Engine engine;
  return &engine;
}
