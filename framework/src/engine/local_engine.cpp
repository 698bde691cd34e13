// The LibTorch engine the kernel loads on demand: one-job training and evaluation, and the
// local scheduler that runs training and precision jobs.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include "narrow/architecture.hpp"
#include "narrow/dataset.hpp"
#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "engine/channel_search.hpp"
#include "engine/host_latency.hpp"
#include "narrow/metrics.hpp"
#include "engine/quantized_model.hpp"
#include "engine/trainer.hpp"
#include "narrow/training.hpp"
#include "run/torch_engine.hpp"

namespace narrow {

namespace {

TrainResult train_job(const Registry& registry, const TrainJob& job, int threads,
                      const std::function<void(const EpochRecord&)>& on_epoch) {
  const auto data = load_dataset(registry, job.dataset);
  const Architecture arch = Architecture::from_json_string(job.architecture_json);
  check_fits(arch, *data);
  if (job.search) return search_channels(registry, job, *data, threads, on_epoch);
  TrainingExtras extras;
  extras.init_weights = job.init_weights;
  TrainResult r = train_model(arch, *data, job.config, job.seed, threads, job.keep_weights,
                              on_epoch, nullptr, &extras);
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

/// The formats of `job`, built through the registry. Every one must support the job's
/// rounding mode (InputError naming the first that does not).
std::vector<std::unique_ptr<NumberFormat>> job_formats(const Registry& registry,
                                                       const PrecisionJob& job) {
  std::vector<std::unique_ptr<NumberFormat>> formats;
  for (const FormatText& text : job.formats) {
    formats.push_back(create_format(registry, text.name, text.parameters));
    const auto modes = formats.back()->roundings();
    if (std::find(modes.begin(), modes.end(), job.rounding.mode) == modes.end())
      throw InputError(fmt::format("format '{}' does not support rounding '{}'",
                                   formats.back()->name(), rounding_name(job.rounding.mode)));
  }
  return formats;
}

/// A trained model evaluated in float32 with batch norm folded (the first result), then in
/// each of `formats` (those of `job`); `on_result` hears of each result as it is made.
void evaluate_precision_job(const Registry& registry, const PrecisionJob& job,
                            const std::vector<std::unique_ptr<NumberFormat>>& formats, int threads,
                            const std::function<void(const PrecisionResult&)>& on_result) {
  if (job.split != "test" && job.split != "validation")
    throw InputError("the split must be 'test' or 'validation', not '" + job.split + "'");
  const Trained t = load_trained(registry, job.architecture_json, job.weights, job.dataset,
                                 threads);
  const auto& data = t.data;
  GraphModule module = t.module;
  const QuantizedModel model(t.arch, module);
  const ImageSet& set = job.split == "test" ? data->test : data->validation;
  // Static quantisation: activation ranges from the float32 model on images spread over the
  // training split, once per model and calibration size.
  std::map<std::int64_t, QuantizedModel::Ranges> calibrations;
  auto ranges_for = [&](const NumberFormat& f) -> const QuantizedModel::Ranges* {
    const std::int64_t images = f.calibration_images();
    if (images <= 0) return nullptr;
    auto it = calibrations.find(images);
    if (it == calibrations.end())
      it = calibrations.emplace(images, model.calibrate(data->train, images)).first;
    return &it->second;
  };
  auto one = [&](const NumberFormat* f) {
    const auto t0 = std::chrono::steady_clock::now();
    PrecisionResult r;
    r.format = f ? f->name() : "float32";
    r.bits = f ? f->bits() : 32;
    r.parameters = model.parameters();
    r.weight_bytes = model.stored_bytes(f);
    r.evaluation = model.evaluate(set, data->classes, f, job.rounding, 500,
                                  f ? ranges_for(*f) : nullptr);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    on_result(r);
  };
  one(nullptr);
  for (const auto& f : formats) one(f.get());
}

/// MACs of an architecture (canonical JSON), a proxy of what a job on it costs; 0 when the
/// JSON does not read (the job reports that when it runs).
std::int64_t macs_of(const std::string& architecture_json) {
  try {
    return analyse(Architecture::from_json_string(architecture_json)).macs;
  } catch (const Error&) {
    return 0;
  }
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
    std::vector<std::int64_t> cost(jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) cost[i] = macs_of(jobs[i].architecture_json);
    each(cost, [&](std::size_t i, std::mutex& results, const std::atomic<bool>& stop) {
      TrainResult r = train_job(registry_, jobs[i], threads_, {});
      std::lock_guard lock(results);
      if (!stop.load()) on_result(r);
    });
  }

  void run_stream(const std::function<std::optional<TrainJob>()>& next,
                  const std::function<void(const TrainResult&)>& on_result) override {
    // Each worker asks for a job under the lock, trains without it, and reports under it; a
    // worker offered nothing waits for the next result (or for the stream to end).
    std::mutex mutex;
    std::condition_variable changed;
    int running = 0;
    bool over = false;
    std::exception_ptr error;
    auto worker = [&] {
      std::unique_lock lock(mutex);
      while (!over) {
        std::optional<TrainJob> job;
        if (!error) {
          try {
            job = next();
          } catch (...) {
            error = std::current_exception();
          }
        }
        if (!job) {
          if (running == 0) {
            over = true;
            changed.notify_all();
            break;
          }
          changed.wait(lock);
          continue;
        }
        ++running;
        lock.unlock();
        std::optional<TrainResult> r;
        std::exception_ptr failure;
        try {
          r = train_job(registry_, *job, threads_, {});
        } catch (...) {
          failure = std::current_exception();
        }
        lock.lock();
        --running;
        if (failure && !error) error = failure;
        if (r && !error) {
          try {
            on_result(*r);
          } catch (...) {
            error = std::current_exception();
          }
        }
        changed.notify_all();
      }
    };
    on_workers(jobs_, worker);
    if (error) std::rethrow_exception(error);
  }

  std::pair<Evaluation, Evaluation> evaluate_ensemble(const EnsembleJob& job) override {
    if (job.architecture_json.empty() || job.architecture_json.size() != job.weights.size())
      throw InputError(fmt::format("an ensemble needs one set of weights per member ({} "
                                   "architectures, {} weights)",
                                   job.architecture_json.size(), job.weights.size()));
    const auto data = load_dataset(registry_, job.dataset);
    const std::size_t members = job.architecture_json.size();
    std::vector<std::vector<float>> validation(members), test(members);
    each(std::vector<std::int64_t>(members, 1),
         [&](std::size_t m, std::mutex&, const std::atomic<bool>&) {
           Trained t = load_trained(registry_, job.architecture_json[m], job.weights[m],
                                    job.dataset, threads_);
           validation[m] = probabilities(t.module, t.data->validation, t.data->classes);
           test[m] = probabilities(t.module, t.data->test, t.data->classes);
         });
    return {vote(validation, data->validation.labels, data->classes, job.vote),
            vote(test, data->test.labels, data->classes, job.vote)};
  }

  void evaluate_precision(
      const std::vector<PrecisionJob>& jobs,
      const std::function<void(std::size_t, std::size_t, const PrecisionResult&)>& on_result)
      override {
    // Every job's formats built and checked before any work.
    std::vector<std::vector<std::unique_ptr<NumberFormat>>> formats;
    for (const auto& job : jobs) formats.push_back(job_formats(registry_, job));
    std::vector<std::int64_t> cost(jobs.size());
    for (std::size_t i = 0; i < jobs.size(); ++i) cost[i] = macs_of(jobs[i].architecture_json);
    each(cost, [&](std::size_t i, std::mutex& results, const std::atomic<bool>& stop) {
      std::size_t index = 0;
      evaluate_precision_job(registry_, jobs[i], formats[i], threads_,
                             [&](const PrecisionResult& r) {
                               std::lock_guard lock(results);
                               if (!stop.load()) on_result(i, index, r);
                               ++index;
                             });
    });
  }

 private:
  /// Runs `work(i, results, stop)` for every job i on `jobs_` workers, the most costly first:
  /// the last jobs to finish are short, so fewer workers idle at the end (results do not
  /// depend on the order). `work` reports under the `results` mutex and not once `stop` is
  /// set. No job starts after an error; the first error is thrown once running jobs end.
  void each(const std::vector<std::int64_t>& cost,
            const std::function<void(std::size_t, std::mutex&, const std::atomic<bool>&)>& work) {
    if (cost.empty()) return;
    std::mutex result_mutex;
    std::atomic<bool> stop{false};
    std::exception_ptr error;
    std::vector<std::size_t> order(cost.size());
    for (std::size_t i = 0; i < cost.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
    std::atomic<std::size_t> next{0};
    on_workers(std::min<int>(jobs_, static_cast<int>(cost.size())), [&] {
      for (std::size_t i; !stop.load() && (i = next.fetch_add(1)) < order.size();) {
        try {
          work(order[i], result_mutex, stop);
        } catch (...) {
          std::lock_guard lock(result_mutex);
          if (!error) error = std::current_exception();
          stop.store(true);
        }
      }
    });
    if (error) std::rethrow_exception(error);
  }

  /// Runs `worker` `count` times at once on a TBB arena of `count` threads (the calling thread
  /// takes part), and returns when every one has returned.
  static void on_workers(int count, const std::function<void()>& worker) {
    tbb::global_control allow(tbb::global_control::max_allowed_parallelism,
                              std::max(count, 2));
    tbb::task_arena arena(count);
    arena.execute([&] {
      tbb::task_group group;
      for (int w = 0; w < count; ++w) group.run(worker);
      group.wait();
    });
  }

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

  LatencyMeasurement measure_latency(const Architecture& arch,
                                     const LatencyOptions& options) override {
    return narrow::measure_latency(arch, options);
  }
};

}  // namespace

}  // namespace narrow

/// The entry point the kernel looks up in this library (narrow::torch_engine()).
extern "C" NARROW_API narrow::TorchEngine* narrow_torch_engine() {
  static narrow::Engine engine;
  return &engine;
}
