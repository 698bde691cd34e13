#pragma once
// Training and precision jobs, their results, and the service that runs them. No LibTorch
// here: jobs and results are plain data (JSON-serialisable training jobs and results; a
// precision job names its formats, built from the registry where it runs), so that a
// distributed back end can ship them between processes.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "narrow/architecture.hpp"
#include "narrow/channel_search.hpp"
#include "narrow/dataset.hpp"
#include "narrow/ensemble.hpp"
#include "narrow/export.hpp"
#include "narrow/format.hpp"
#include "narrow/parameters.hpp"

namespace narrow {

class Registry;

/// How a model is trained: SGD with momentum, a learning-rate schedule, a number of epochs or
/// of iterations (a partial "traction" training, Chan et al. 3.4).
struct NARROW_API TrainingConfig {
  std::int64_t epochs = 10;
  std::int64_t iterations = 0;  // > 0: stop after this many batches instead of `epochs`
  std::int64_t batch_size = 64;
  double learning_rate = 0.05;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 5e-4;
  std::string schedule = "cosine";  // cosine | step | constant
  std::int64_t step_epochs = 30;    // step: multiply the rate by `gamma` every this many epochs
  double gamma = 0.1;
  double label_smoothing = 0;

  /// The parameters above, with defaults, ranges and help (strategies and `narrow train`).
  static ParamSchema schema();
  static TrainingConfig from(const Parameters& p);
  nlohmann::json to_json() const;
  static TrainingConfig from_json(const nlohmann::json& j);
};

/// One training: an architecture, a dataset, a configuration, a seed. Its `key` is the content
/// hash of all of these, under which the store keeps the result.
struct NARROW_API TrainJob {
  std::string key;
  std::string architecture_hash;
  std::string architecture_json;  // canonical JSON
  DatasetSpec dataset;
  TrainingConfig config;
  std::uint64_t seed = 0;  // weights, batch order, augmentation, dropout
  int threads = 1;         // LibTorch threads for this job (set by the scheduler)
  bool keep_weights = true;
  /// Weights to start from (LibTorch's serialisation, as TrainResult::weights keeps them)
  /// instead of drawing them from `seed`: a fine-tuning, or a search from a warmed-up seed.
  /// Binary: to_json leaves them out; they travel beside the JSON, as results' weights do.
  std::string init_weights;
  /// A channel search instead of a plain training (narrow/channel_search.hpp): masks and
  /// weights train together under the search's cost targets, and the result is the exported
  /// architecture (TrainResult::architecture_json) with its weights.
  std::optional<ChannelSearch> search;

  /// "train", or "channel_search" for a job with a search.
  std::string kind() const { return search ? "channel_search" : "train"; }
  /// Fills `key` from the hash, dataset key, configuration and seed (and the content hash of
  /// init_weights and the search, when the job has them).
  void make_key(const Registry& registry);
  nlohmann::json to_json() const;
  static TrainJob from_json(const nlohmann::json& j);
};

/// Loss, top-1 accuracy and confusion matrix of a model on one set of images.
struct NARROW_API Evaluation {
  std::int64_t count = 0;
  double loss = 0, accuracy = 0;  // accuracy is a fraction in [0, 1]
  std::vector<std::vector<std::int64_t>> confusion;  // [true class][predicted class]
  nlohmann::json to_json() const;
  static Evaluation from_json(const nlohmann::json& j);
};

/// One epoch (or the partial epoch an iteration budget ends in).
struct NARROW_API EpochRecord {
  std::int64_t epoch = 0;
  double learning_rate = 0;
  double train_loss = 0, train_accuracy = 0;
  double val_loss = 0, val_accuracy = 0;
  double seconds = 0;
};

/// What a training came to. A training whose loss becomes NaN or Inf is `failed` with the
/// reason; the run goes on.
struct NARROW_API TrainResult {
  std::string key;
  std::string architecture_hash;
  std::string status = "ok";  // ok | failed
  std::string reason;         // why it failed; empty when ok
  std::int64_t epochs = 0;    // epochs run (the last may be partial with `iterations`)
  std::int64_t iterations = 0;
  std::int64_t parameters = 0;
  std::vector<EpochRecord> history;
  Evaluation validation, test;
  double seconds = 0;            // wall time of the training loop (evaluation excluded)
  double images_per_second = 0;  // training images through forward and backward per second
  int threads = 1;
  std::string weights;  // the trained weights, serialised by LibTorch (empty if not kept)
  /// When the job changed the architecture (a channel search's export): its canonical JSON,
  /// with `architecture_hash` its hash. Empty for a plain training.
  std::string architecture_json;
  /// What the job kind reports beyond a training, as JSON text (a channel search's costs,
  /// masks and penalty history); empty for a plain training.
  std::string details;

  /// JSON without the weights (they are binary; the store keeps them as a blob).
  nlohmann::json to_json() const;
  static TrainResult from_json(const nlohmann::json& j);
};

/// A loss or objective as JSON: the number, or null when it is NaN or infinite (JSON has no
/// such numbers; a failed training's loss is one).
NARROW_API nlohmann::json json_number(double x);

/// The one order of trainings wherever narrow picks "the best": a successful training before a
/// failed one, then the higher validation accuracy, then the smaller key (so that ties are
/// broken the same way on every run).
NARROW_API bool ranks_before(const TrainResult& a, const TrainResult& b);
/// The first of `trainings` in that order among the successful ones; nullptr when none is.
NARROW_API const TrainResult* best_training(const std::vector<TrainResult>& trainings);

/// Throws InputError when `arch` cannot train on `data`: its input shape differs from the
/// images' or its class count from the data set's.
NARROW_API void check_fits(const Architecture& arch, const PreparedData& data);

/// Accuracy of one trained model in one number format (the precision analysis).
struct NARROW_API PrecisionResult {
  std::string format;            // as created, e.g. "ieee(4,3)"; "float32" for the reference
  int bits = 32;                 // bits per stored value
  std::int64_t parameters = 0;   // after batch norm folding
  std::int64_t weight_bytes = 0; // parameters x bits / 8, bit-packed
  Evaluation evaluation;
  double seconds = 0;

  /// JSON with the evaluation (a NaN or infinite loss is null).
  nlohmann::json to_json() const;
  static PrecisionResult from_json(const nlohmann::json& j);
};

/// One trained model to evaluate in reduced precision: in float32 with batch norm folded
/// (the reference), then in each of `formats`, on one split of its dataset. Plain data: the
/// formats are named with their parameters and built through the registry where the job runs.
struct NARROW_API PrecisionJob {
  std::string architecture_json;  // canonical JSON
  std::string weights;            // as TrainResult keeps them
  DatasetSpec dataset;
  std::string split = "test";     // "test" or "validation"
  std::vector<FormatText> formats;  // registered names and parameters (parse_format_text)
  RoundingOptions rounding;
};

/// Runs training jobs. The local back end runs J jobs at once on a TBB arena, each with T
/// LibTorch threads; a distributed back end implements the same interface. Results do not
/// depend on J or on the order in which jobs finish: every job carries its own seed.
class NARROW_API TrainingService {
 public:
  virtual ~TrainingService();
  /// Jobs run at once, and LibTorch threads per job.
  virtual int jobs() const = 0;
  virtual int threads_per_job() const = 0;
  /// Runs the jobs; `on_result` is called once per job as it finishes, never by two threads
  /// at once. A job that fails to train (NaN loss) is a result with status "failed"; an error
  /// (a dataset that cannot be read) is thrown once the running jobs have finished.
  virtual void run(const std::vector<TrainJob>& jobs,
                   const std::function<void(const TrainResult&)>& on_result) = 0;
  /// Runs jobs as `next` offers them, for a search that decides each job from the results
  /// before it (Monte Carlo's adaptive samples). Whenever a worker is free, `next()` is asked
  /// for a job: one it returns starts on that worker at once; an empty optional means nothing
  /// can start yet, and `next` is asked again after the next result. The stream ends when no
  /// job runs and `next` offers none. `next` and `on_result` are never called by two threads at
  /// once. A failed training is a result; an error is thrown once the running jobs end, and
  /// no job starts after it.
  virtual void run_stream(const std::function<std::optional<TrainJob>()>& next,
                          const std::function<void(const TrainResult&)>& on_result) = 0;
  /// The validation and test evaluations of an ensemble: every member's class probabilities
  /// on both splits (members on the service's workers), combined by narrow::vote. A member
  /// whose weights do not fit its architecture, or whose input or classes differ from the
  /// dataset's, is an InputError.
  virtual std::pair<Evaluation, Evaluation> evaluate_ensemble(const EnsembleJob& job) = 0;
  /// Evaluates precision jobs on the same workers (J jobs at once, T LibTorch threads each).
  /// `on_result(job, index, result)` hears of each result as it is made, never two at once:
  /// index 0 is the float32 reference, index i > 0 the job's format i - 1. A format that does
  /// not support the rounding mode is an InputError, raised before any work; other errors are
  /// thrown once the running jobs have finished.
  virtual void evaluate_precision(
      const std::vector<PrecisionJob>& jobs,
      const std::function<void(std::size_t job, std::size_t index, const PrecisionResult&)>&
          on_result) = 0;
};



}  // namespace narrow
