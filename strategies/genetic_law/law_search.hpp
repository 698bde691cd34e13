#pragma once
// The genetic search of sampling laws (Scheidegger et al. 2019, §4): a law is one uniform
// range [low, high] per variable; its cost says how far the metric of the architectures it
// draws is from a target window; a steady-state genetic algorithm with tournament selection
// and range mutations lowers the cost. One search is a fixed function of its seed and runs on
// one thread.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "narrow/architecture.hpp"
#include "narrow/constraints.hpp"
#include "narrow/random.hpp"
#include "narrow/space.hpp"

namespace narrow {
class Device;
}

namespace narrow::genetic_law {

/// The settings of one search (the strategy's parameters of the same names).
struct Settings {
  std::int64_t n_init = 100;     // laws of the initial population
  std::int64_t n_steps = 900;    // steps: one child law each
  std::int64_t n_eval = 10;      // accepted architectures that estimate a law's statistic
  std::int64_t tournament = 10;  // laws drawn for a tournament (2 .. n_init)
  double mutation_rate = 0.1;    // probability that a variable's range moves in a child
  double mutation_step = 0.5;    // largest move of an integer bound, as a fraction of its range
  std::int64_t draw_budget = 3;  // an evaluation draws at most draw_budget * n_eval assignments
  double refused_penalty = 1.0;  // cost added per refused fraction of an evaluation's draws
};

/// The statistic of a law: mean and sample standard deviation of log10 of the metric over its
/// accepted draws (NaN without any; sigma 0 with one), and how many draws it accepted and
/// refused (invalid, breaking a constraint, or without a positive metric).
struct LawStats {
  double mean = 0, sigma = 0;
  std::int64_t accepted = 0, refused = 0;
};

/// The statistic of the log10 metric values of the accepted draws and `refused` draws.
LawStats summarize(const std::vector<double>& log_values, std::int64_t refused);

/// c = |mu - sigma - tau1| + |mu + sigma - tau2|, everything in log10 of the metric.
double window_cost(double mean, double sigma, double log_low, double log_high);

/// The cost of a law: +infinity with fewer than 2 accepted draws; otherwise window_cost plus
/// `refused_penalty` times the fraction of its draws that were refused.
double law_cost(const LawStats& stats, double log_low, double log_high, double refused_penalty);

/// What a search aims at: a metric of target_metrics() in the window (low, high), in the
/// metric's unit (latency in seconds).
struct Target {
  std::string metric;
  double low = 0, high = 0;
};

/// Draws architectures from laws of one space and measures the target metric of those the
/// experiment accepts. `latency` is the device that predicts latency when the metric is
/// `latency` (the constraints' device is used first when they bound latency).
class LawEvaluator {
 public:
  LawEvaluator(const SearchSpace& space, const Constraints& constraints, std::string metric,
               const Device* latency = nullptr);
  /// The evaluator keeps a reference to the constraints: a temporary would not outlive it.
  LawEvaluator(const SearchSpace&, Constraints&&, std::string, const Device* = nullptr) = delete;
  /// Draws from `law` with `rng` until `n_eval` draws are accepted or `max_draws` assignments
  /// were drawn. Adds the assignments drawn to `drawn`.
  LawStats evaluate(const SamplingLaw& law, Rng& rng, std::int64_t n_eval,
                    std::int64_t max_draws, std::int64_t& drawn) const;
  /// The metric of an assignment the experiment accepts, or a value <= 0 when it is refused.
  double metric_of(const Assignment& a) const;

 private:
  const SearchSpace& space_;
  const Constraints& constraints_;
  std::string metric_;
  const Device* latency_;
  bool latency_metric_;
};

/// A law drawn at random: each variable's [low, high] the sorted pair of two uniform values
/// inside its absolute bounds.
SamplingLaw random_law(const std::vector<Variable>& variables, Rng& rng);

/// Whether a variable has exactly two values (a boolean-like choice or integer).
bool two_valued(const Variable& v);

/// Moves the ranges of a law: every variable with more than one value moves with probability
/// `rate`, and at least one moves. Two-valued variables take another of [min,min], [max,max]
/// and [min,max]; choices move low or high by one index; integers move low or high by 1 ..
/// max(1, round(step * (max - min))). A bound pushed past the other carries it along, so
/// low <= high and both stay inside the absolute bounds.
void mutate(const std::vector<Variable>& variables, SamplingLaw& law, Rng& rng, double rate,
            double step);

/// A law of the population with its cost (+infinity when it cannot be estimated) and statistic.
struct ScoredLaw {
  std::vector<std::int64_t> low, high;
  double cost = 0;
  LawStats stats;
};

/// The result of one search.
struct SearchResult {
  std::vector<ScoredLaw> population;  // the final population, in population order
  std::size_t best = 0;               // index of the lowest cost (the first of equal ones)
  std::int64_t drawn = 0;             // assignments drawn, refused ones included
  std::int64_t accepted = 0;          // architectures accepted and measured
  double seconds = 0;
};

/// Runs one search. Evaluation e (0-based: the initial laws, then one child per step) draws
/// from stream_rng(seed, e + 1); initial laws, tournaments and mutations use stream_rng(seed, 0).
/// A step draws `tournament` distinct laws, mutates a copy of the lowest-cost one and puts the
/// child in place of the highest-cost one of the tournament.
SearchResult search(const LawEvaluator& evaluator, const std::vector<Variable>& variables,
                    const Target& target, const Settings& settings, std::uint64_t seed);

/// A law of the population as the population record writes it:
/// {"low", "high", "cost" (null for +infinity), "mean", "sigma" (null without accepted draws),
/// "accepted", "refused"}.
nlohmann::json scored_law_json(const ScoredLaw& law);

}  // namespace narrow::genetic_law
