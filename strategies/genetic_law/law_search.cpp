#include "law_search.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include <boost/random/bernoulli_distribution.hpp>
#include <boost/random/uniform_int_distribution.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/device.hpp"
#include "narrow/errors.hpp"
#include "narrow/metrics.hpp"

namespace narrow::genetic_law {

namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();

std::int64_t uniform(Rng& rng, std::int64_t low, std::int64_t high) {
  return low == high ? low : boost::random::uniform_int_distribution<std::int64_t>(low, high)(rng);
}

}  // namespace

LawStats summarize(const std::vector<double>& log_values, std::int64_t refused) {
  LawStats s;
  s.accepted = std::int64_t(log_values.size());
  s.refused = refused;
  if (log_values.empty()) {
    s.mean = s.sigma = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double sum = 0;
  for (double v : log_values) sum += v;
  s.mean = sum / double(log_values.size());
  if (log_values.size() > 1) {
    double squares = 0;
    for (double v : log_values) squares += (v - s.mean) * (v - s.mean);
    s.sigma = std::sqrt(squares / double(log_values.size() - 1));
  }
  return s;
}

double window_cost(double mean, double sigma, double log_low, double log_high) {
  return std::abs(mean - sigma - log_low) + std::abs(mean + sigma - log_high);
}

double law_cost(const LawStats& stats, double log_low, double log_high, double refused_penalty) {
  if (stats.accepted < 2) return infinity;
  const double refused_fraction = double(stats.refused) / double(stats.accepted + stats.refused);
  return window_cost(stats.mean, stats.sigma, log_low, log_high) +
         refused_penalty * refused_fraction;
}

LawEvaluator::LawEvaluator(const SearchSpace& space, const Constraints& constraints,
                           std::string metric, const Device* latency)
    : space_(space),
      constraints_(constraints),
      metric_(std::move(metric)),
      latency_(latency),
      latency_metric_(metric_ == "latency") {
  if (latency_metric_ && !constraints_.latency_bound() && !(latency_ && latency_->predicts()))
    throw InputError("the metric 'latency' needs a device that predicts latency");
  if (!latency_metric_) Metrics{}.get(metric_);  // InputError for an unknown metric name
}

double LawEvaluator::metric_of(const Assignment& a) const {
  Architecture arch;
  std::string reason;
  try {
    if (!space_.try_build(a, arch, reason)) return 0;
    arch.finalize();
  } catch (const InvalidArchitecture&) {
    return 0;
  }
  const Metrics m = analyse(arch);
  double latency = 0;
  if (constraints_.violated(m, &arch, &latency)) return 0;
  if (!latency_metric_) return double(m.get(metric_));
  if (constraints_.latency_bound()) return latency;
  const auto predicted = latency_->predict(arch, m);
  if (!predicted) throw Error(fmt::format("device '{}' predicts no latency", latency_->name()));
  return *predicted;
}

LawStats LawEvaluator::evaluate(const SamplingLaw& law, Rng& rng, std::int64_t n_eval,
                                std::int64_t max_draws, std::int64_t& drawn) const {
  std::vector<double> values;
  values.reserve(std::size_t(n_eval));
  std::int64_t refused = 0;
  for (std::int64_t d = 0; d < max_draws && std::int64_t(values.size()) < n_eval; ++d) {
    ++drawn;
    const double v = metric_of(space_.draw(law, rng));
    if (v > 0 && std::isfinite(v))
      values.push_back(std::log10(v));
    else
      ++refused;
  }
  return summarize(values, refused);
}

SamplingLaw random_law(const std::vector<Variable>& variables, Rng& rng) {
  SamplingLaw law;
  for (const auto& v : variables) {
    std::int64_t a = uniform(rng, v.min, v.max), b = uniform(rng, v.min, v.max);
    if (a > b) std::swap(a, b);
    law.low.push_back(a);
    law.high.push_back(b);
  }
  return law;
}

bool two_valued(const Variable& v) {
  return v.max - v.min == 1;
}

namespace {

// Moves one variable's range; it always changes.
void move_range(const Variable& v, std::int64_t& low, std::int64_t& high, Rng& rng,
                double step) {
  if (two_valued(v)) {
    // The three ranges of two values, the current one excluded.
    const std::pair<std::int64_t, std::int64_t> ranges[3] = {
        {v.min, v.min}, {v.max, v.max}, {v.min, v.max}};
    std::pair<std::int64_t, std::int64_t> others[2];
    int n = 0;
    for (const auto& r : ranges)
      if (r != std::pair{low, high} && n < 2) others[n++] = r;
    const auto& r = others[uniform(rng, 0, n - 1)];
    low = r.first;
    high = r.second;
    return;
  }
  const std::int64_t largest =
      v.kind == Variable::Kind::choice
          ? 1
          : std::max<std::int64_t>(1, std::llround(step * double(v.max - v.min)));
  const std::int64_t size = uniform(rng, 1, largest);
  const bool move_low = uniform(rng, 0, 1) == 0;
  std::int64_t delta = uniform(rng, 0, 1) == 0 ? -size : size;
  std::int64_t& bound = move_low ? low : high;
  std::int64_t moved = std::clamp(bound + delta, v.min, v.max);
  if (moved == bound) moved = std::clamp(bound - delta, v.min, v.max);  // at a bound: turn back
  bound = moved;
  // A bound pushed past the other carries it along.
  if (low > high) (move_low ? high : low) = moved;
}

}  // namespace

void mutate(const std::vector<Variable>& variables, SamplingLaw& law, Rng& rng, double rate,
            double step) {
  std::vector<std::size_t> movable;
  for (std::size_t i = 0; i < variables.size(); ++i)
    if (variables[i].max > variables[i].min) movable.push_back(i);
  if (movable.empty()) return;
  boost::random::bernoulli_distribution<double> moves(rate);
  bool moved = false;
  for (std::size_t i : movable)
    if (moves(rng)) {
      move_range(variables[i], law.low[i], law.high[i], rng, step);
      moved = true;
    }
  if (!moved) {
    const std::size_t i = movable[std::size_t(uniform(rng, 0, std::int64_t(movable.size()) - 1))];
    move_range(variables[i], law.low[i], law.high[i], rng, step);
  }
}

SearchResult search(const LawEvaluator& evaluator, const std::vector<Variable>& variables,
                    const Target& target, const Settings& s, std::uint64_t seed) {
  if (s.n_init < 2 || s.tournament < 2 || s.tournament > s.n_init || s.n_eval < 2 ||
      s.n_steps < 0 || s.draw_budget < 1)
    throw InputError(fmt::format(
        "genetic law search: n_init {}, tournament {}, n_eval {}, n_steps {}, draw_budget {}: "
        "need n_init >= tournament >= 2, n_eval >= 2, n_steps >= 0, draw_budget >= 1",
        s.n_init, s.tournament, s.n_eval, s.n_steps, s.draw_budget));
  if (!(target.low > 0 && target.low < target.high))
    throw InputError(fmt::format("genetic law search: window ({}, {}) must have 0 < tau1 < tau2",
                                 target.low, target.high));
  const auto start = std::chrono::steady_clock::now();
  const double log_low = std::log10(target.low), log_high = std::log10(target.high);
  const std::int64_t max_draws = s.draw_budget * s.n_eval;
  SearchResult result;
  std::uint64_t evaluations = 0;
  auto evaluate = [&](const SamplingLaw& law) {
    Rng rng = stream_rng(seed, ++evaluations);
    ScoredLaw scored{law.low, law.high, 0, {}};
    scored.stats = evaluator.evaluate(law, rng, s.n_eval, max_draws, result.drawn);
    scored.cost = law_cost(scored.stats, log_low, log_high, s.refused_penalty);
    result.accepted += scored.stats.accepted;
    return scored;
  };

  Rng rng = stream_rng(seed, 0);
  std::vector<SamplingLaw> initial;
  for (std::int64_t i = 0; i < s.n_init; ++i) initial.push_back(random_law(variables, rng));
  auto& population = result.population;
  for (const auto& law : initial) population.push_back(evaluate(law));

  std::vector<std::size_t> order(population.size());
  for (std::int64_t step = 0; step < s.n_steps; ++step) {
    // `tournament` distinct laws: the first places of a partial shuffle.
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (std::size_t i = 0; i < std::size_t(s.tournament); ++i)
      std::swap(order[i], order[std::size_t(uniform(rng, std::int64_t(i),
                                                    std::int64_t(order.size()) - 1))]);
    std::size_t parent = order[0], worst = order[0];
    for (std::size_t i = 1; i < std::size_t(s.tournament); ++i) {
      const std::size_t j = order[i];
      if (population[j].cost < population[parent].cost) parent = j;
      if (population[j].cost >= population[worst].cost) worst = j;
    }
    SamplingLaw child;
    child.low = population[parent].low;
    child.high = population[parent].high;
    mutate(variables, child, rng, s.mutation_rate, s.mutation_step);
    population[worst] = evaluate(child);
  }

  for (std::size_t i = 1; i < population.size(); ++i)
    if (population[i].cost < population[result.best].cost) result.best = i;
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

nlohmann::json scored_law_json(const ScoredLaw& law) {
  auto number = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); };
  return {{"low", law.low},           {"high", law.high},
          {"cost", number(law.cost)}, {"mean", number(law.stats.mean)},
          {"sigma", number(law.stats.sigma)}, {"accepted", law.stats.accepted},
          {"refused", law.stats.refused}};
}

}  // namespace narrow::genetic_law
