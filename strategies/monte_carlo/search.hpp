#pragma once
// The decisions of constrained Monte Carlo architecture learning (Chan et al. §3), apart from
// training: which architecture sample k is, drawn (Algorithm I) or moved from an earlier one
// (Algorithm II), and from which results. Training, storing and scheduling are the strategy's
// (monte_carlo_strategy.hpp); this class only sees results come back, so tests drive it with a
// synthetic objective.
//
// Determinism with several workers: sample k is decided from the results of samples 0..h(k)
// only, its horizon, and from its own random stream (seed, k). Draws of the random phase have
// no horizon (all can start at once); an adaptive sample's horizon is k - workers when
// dispatch is asynchronous (with workers = 1, the synchronous algorithm: every result before
// it), or the last sample before its batch when samples are decided in batches of `workers`
// (the N-best variant). A worker that frees up when sample k - workers has finished starts
// sample k at once, which is the paper's asynchronous operation when trainings finish in the
// order they started; when a later one finishes first, the worker waits for the earlier, so
// that the same seed gives the same samples whatever the timing.
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "narrow/constraints.hpp"
#include "narrow/moves.hpp"
#include "narrow/sampler.hpp"
#include "narrow/space.hpp"
#include "narrow/training.hpp"

namespace narrow::strategies {

/// Random draws (Algorithm I, trained for a few iterations), adaptive samples trained for a
/// few iterations (traction, §3.4), then adaptive samples trained to the full budget.
enum class Phase { random, traction, full };
std::string_view phase_name(Phase p);

struct SearchSettings {
  std::int64_t random = 50, traction = 50, full = 20;  // samples per phase
  int workers = 1;       // trainings at once
  bool batch = false;    // decide the next `workers` samples together (N-best) instead of async
  int parents = 1;       // a move starts from one of the `parents` best samples
  bool moves = true;     // false: adaptive samples are random draws too (random search)
  double beta = 5e-5;    // J = validation loss + beta * R(A)
  std::string regularizer = "params";  // R: a metric name
  std::int64_t max_tries = 100000;  // refused moves (or draws) for one sample before giving up
  MoveFactors factors;
};

/// One sample: its architecture, where it came from, and, once trained, its objective.
struct Sample {
  std::int64_t index = 0;
  Phase phase = Phase::random;
  Draw draw;                   // assignment, architecture (hash, JSON, metrics), accepted
  std::int64_t parent = -1;    // the sample it was moved from; -1 for a draw
  std::optional<Move> move;
  std::string move_text;       // "draw", "add conv2", "conv1.filters up", ...
  std::int64_t refused = 0;    // draws or moves refused before this one (invalid, over a
                               // bound, or an architecture sampled before)
  bool finished = false, ok = false;
  double loss = 0, accuracy = 0;  // validation loss and accuracy
  double objective = std::numeric_limits<double>::infinity();  // J; infinite when failed
};

class MonteCarloSearch {
 public:
  /// `laws` (at least one) are what the random phase draws from, in turn; moves keep to the
  /// space's absolute bounds. Throws InputError when the regularizer is not a metric.
  MonteCarloSearch(const SearchSpace& space, std::vector<SamplingLaw> laws,
                   Constraints constraints, SearchSettings settings, std::uint64_t seed);

  std::int64_t total() const { return settings_.random + settings_.traction + settings_.full; }
  Phase phase_of(std::int64_t k) const;
  /// The last sample whose result sample k is decided from (-1: none).
  std::int64_t horizon(std::int64_t k) const;

  /// Decides the samples that are draws (the random phase; every sample with moves off) at
  /// once, drawing in batches on `threads` threads, before any training: they depend on no
  /// result, and the stream hands them out without drawing. The samples are the same as
  /// without it. Throws like next().
  void decide_draws_ahead(int threads);
  /// The next sample: one decided ahead, or one decided now when every result it depends on is
  /// in; empty when every sample is out or the next must wait for a result. Throws Error when
  /// no architecture within the constraints comes out of max_tries draws.
  std::optional<std::int64_t> next();
  /// The training of sample k came back: validation loss and accuracy, or a failure.
  void finish(std::int64_t k, bool ok, double loss, double accuracy);

  const std::vector<Sample>& samples() const { return samples_; }
  /// J of a trained architecture: loss + beta * R.
  double objective(double loss, const Metrics& m) const;
  /// The finished successful samples with index <= `last`, best J first (ties: the earlier
  /// sample); of one phase when given.
  std::vector<std::int64_t> ranking(std::int64_t last, std::optional<Phase> phase = {}) const;
  /// True when every sample is decided and finished.
  bool done() const;

 private:
  /// Decides sample k (the next to decide) and adds it.
  void decide(std::int64_t k);
  /// The next draw of law `law`, from batches of single draws (Sampler::draw_batch).
  Draw next_draw(std::size_t law);
  Sample draw_sample(std::int64_t k);
  std::optional<Sample> move_sample(std::int64_t k, Rng& rng);
  /// An architecture the search may train: accepted by the constraints and never sampled.
  bool usable(const Draw& d) const;

  const SearchSpace& space_;
  std::vector<SamplingLaw> laws_;
  Constraints constraints_;
  SearchSettings settings_;
  std::uint64_t seed_;
  std::vector<LayerGroup> groups_;
  std::vector<Sample> samples_;  // decided, in order
  std::int64_t handed_ = 0;      // samples next() has given out
  std::vector<Sampler> samplers_;          // per law
  std::vector<std::deque<Draw>> pending_;  // per law: drawn, not yet looked at
  std::vector<std::uint64_t> next_draw_;   // per law: index of the next batch's first draw
  int threads_ = 1;
  std::vector<std::string> hashes_;  // sorted, of every sample decided
};

/// The training job of a sample: its architecture on `dataset` with `config` (the full budget
/// or the traction one, by its phase), seeded by the stage's seed and the architecture, so that
/// a variant or a resumed run that meets the same architecture reuses the training.
TrainJob sample_job(const Sample& s, const DatasetSpec& dataset, const TrainingConfig& config,
                    std::uint64_t stage_seed, bool keep_weights, const Registry& registry);

/// The members of an ensemble of at most `size` models: the fully trained samples in order of
/// J, each taken when the members' summed metrics (narrow::ensemble_metrics: the ensemble is
/// stored and run whole) stay within every metric bound of `bounds`. Latency bounds hold for
/// each member, as every sample was checked against them, and are not summed.
std::vector<std::int64_t> ensemble_members(const MonteCarloSearch& search, std::size_t size,
                                           const Constraints& bounds);

/// Trains the samples of `search` on `service` as they are decided (TrainingService::
/// run_stream), until every one has finished. `job` makes the training job of a sample;
/// `stored` gives the stored result of a job when there is one: the sample then finishes at
/// once without training (a resumed run). `finished(sample, job, result, was_stored)` hears of
/// each result after the search has it, from one thread at a time.
void train_samples(
    MonteCarloSearch& search, TrainingService& service,
    const std::function<TrainJob(const Sample&)>& job,
    const std::function<std::optional<TrainResult>(const TrainJob&)>& stored,
    const std::function<void(const Sample&, const TrainJob&, const TrainResult&, bool)>& finished);

}  // namespace narrow::strategies
