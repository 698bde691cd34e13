#include "search.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include <fmt/format.h>

#include "narrow/ensemble.hpp"
#include "narrow/errors.hpp"
#include "narrow/hash.hpp"
#include "narrow/random.hpp"

namespace narrow::strategies {

std::string_view phase_name(Phase p) {
  switch (p) {
    case Phase::random:
      return "random";
    case Phase::traction:
      return "traction";
    case Phase::full:
      return "full";
  }
  return "unknown";
}

MonteCarloSearch::MonteCarloSearch(const SearchSpace& space, std::vector<SamplingLaw> laws,
                                   Constraints constraints, SearchSettings settings,
                                   std::uint64_t seed)
    : space_(space),
      laws_(std::move(laws)),
      constraints_(std::move(constraints)),
      settings_(std::move(settings)),
      seed_(seed),
      groups_(layer_groups(space.variables())) {
  if (laws_.empty()) throw Error("the Monte Carlo search needs at least one law to draw from");
  for (std::size_t i = 0; i < laws_.size(); ++i)  // checks each law
    samplers_.emplace_back(space_, laws_[i], content_seed(fmt::format("{}|law|{}", seed_, i)));
  pending_.resize(laws_.size());
  next_draw_.assign(laws_.size(), 0);
  Metrics probe;
  probe.get(settings_.regularizer);  // InputError for a name that is not a metric
  settings_.workers = std::max(1, settings_.workers);
  settings_.parents = std::max(1, settings_.parents);
}

Phase MonteCarloSearch::phase_of(std::int64_t k) const {
  if (k < settings_.random) return Phase::random;
  if (k < settings_.random + settings_.traction) return Phase::traction;
  return Phase::full;
}

std::int64_t MonteCarloSearch::horizon(std::int64_t k) const {
  if (phase_of(k) == Phase::random) return -1;
  if (!settings_.moves) return -1;  // random search: nothing to wait for
  if (!settings_.batch) return k - settings_.workers;
  const std::int64_t a = k - settings_.random;
  return settings_.random + (a / settings_.workers) * settings_.workers - 1;
}

double MonteCarloSearch::objective(double loss, const Metrics& m) const {
  return loss + settings_.beta * double(m.get(settings_.regularizer));
}

bool MonteCarloSearch::usable(const Draw& d) const {
  return d.status == DrawStatus::accepted &&
         !std::binary_search(hashes_.begin(), hashes_.end(), d.hash);
}

std::vector<std::int64_t> MonteCarloSearch::ranking(std::int64_t last,
                                                    std::optional<Phase> phase) const {
  std::vector<std::int64_t> out;
  for (const Sample& s : samples_)
    if (s.index <= last && s.finished && s.ok && (!phase || s.phase == *phase))
      out.push_back(s.index);
  std::stable_sort(out.begin(), out.end(), [&](std::int64_t a, std::int64_t b) {
    return samples_[std::size_t(a)].objective < samples_[std::size_t(b)].objective;
  });
  return out;
}

bool MonteCarloSearch::done() const {
  if (std::int64_t(samples_.size()) < total()) return false;
  return std::all_of(samples_.begin(), samples_.end(), [](const Sample& s) { return s.finished; });
}

Draw MonteCarloSearch::next_draw(std::size_t law) {
  auto& pending = pending_[law];
  if (pending.empty()) {
    // A batch of single draws (the `random` strategy's batch draw): draw i of the law from its
    // own stream, on threads_ threads; the same draws whatever the thread count.
    const std::uint64_t count = 16 * std::uint64_t(std::max(1, threads_));
    for (Draw& d : samplers_[law].draw_batch(next_draw_[law], count, constraints_, threads_))
      pending.push_back(std::move(d));
    next_draw_[law] += count;
  }
  Draw d = std::move(pending.front());
  pending.pop_front();
  return d;
}

Sample MonteCarloSearch::draw_sample(std::int64_t k) {
  // Algorithm I: the law's next draws until one builds, keeps every bound and is new. The laws
  // take turns by sample.
  const std::size_t law = std::size_t(k) % laws_.size();
  Sample s;
  std::string last;
  for (std::int64_t tries = 0; tries < settings_.max_tries; ++tries) {
    Draw d = next_draw(law);
    if (usable(d)) {
      s.draw = std::move(d);
      s.move_text = "draw";
      s.refused = tries;
      return s;
    }
    last = d.status == DrawStatus::accepted ? "an architecture sampled before" : d.reason;
  }
  throw Error(fmt::format("sample {}: law '{}' gave no new architecture within the constraints "
                          "in {} draws (the last: {}); loosen the constraints or the law, or "
                          "raise max_tries",
                          k, laws_[law].name, settings_.max_tries, last));
}

void MonteCarloSearch::decide_draws_ahead(int threads) {
  threads_ = std::max(1, threads);
  const std::int64_t draws = settings_.moves ? settings_.random : total();
  while (std::int64_t(samples_.size()) < draws) decide(std::int64_t(samples_.size()));
  threads_ = 1;  // later draws (a fallback of a move) happen while workers train
}

std::optional<Sample> MonteCarloSearch::move_sample(std::int64_t k, Rng& rng) {
  const auto known = ranking(horizon(k));
  if (known.empty()) return std::nullopt;  // nothing trained yet to move from
  const auto& vars = space_.variables();
  // The parent: the best so far, or one of the `parents` best (N-best).
  const auto pool = std::min<std::size_t>(known.size(), std::size_t(settings_.parents));
  const std::int64_t p =
      known[std::uniform_int_distribution<std::size_t>(0, pool - 1)(rng)];
  const Sample& parent = samples_[std::size_t(p)];
  std::int64_t refused = 0;
  auto take = [&](const Move& m, Draw d) {
    Sample s;
    s.draw = std::move(d);
    s.parent = p;
    s.move = m;
    s.move_text = m.text(vars, groups_);
    s.refused = refused;
    return s;
  };
  // Coordinate descent: the parent improved on its own parent by scaling a coordinate, so
  // scale it once more in the same direction.
  // Only a comparison within one training budget tells a direction from the longer training.
  const auto full = [](const Sample& x) { return x.phase == Phase::full; };
  if (parent.move && parent.move->kind == Move::Kind::scale && parent.parent >= 0 &&
      full(parent) == full(samples_[std::size_t(parent.parent)]) &&
      parent.objective < samples_[std::size_t(parent.parent)].objective) {
    if (auto a = apply_move(vars, groups_, parent.draw.assignment, *parent.move, rng,
                            settings_.factors)) {
      Draw d = assess(space_, std::move(*a), constraints_);
      if (usable(d)) {
        Sample s = take(*parent.move, std::move(d));
        s.move_text += " (descent)";
        return s;
      }
    }
    ++refused;
  }
  // A random meta or layer move; one that gives an invalid, constraint-breaking or repeated
  // architecture is refused and another drawn.
  for (; refused < settings_.max_tries; ++refused) {
    const auto m = random_move(vars, groups_, parent.draw.assignment, rng);
    if (!m) break;  // this architecture offers no move at all
    auto a = apply_move(vars, groups_, parent.draw.assignment, *m, rng, settings_.factors);
    if (!a) continue;
    Draw d = assess(space_, std::move(*a), constraints_);
    if (usable(d)) return take(*m, std::move(d));
  }
  return std::nullopt;
}

std::optional<std::int64_t> MonteCarloSearch::next() {
  // Samples decided ahead (the draws) go out first.
  if (handed_ < std::int64_t(samples_.size())) return handed_++;
  const auto k = std::int64_t(samples_.size());
  if (k >= total()) return std::nullopt;
  const std::int64_t h = horizon(k);
  for (std::int64_t i = 0; i <= h; ++i)
    if (!samples_[std::size_t(i)].finished) return std::nullopt;
  decide(k);
  handed_ = k + 1;
  return k;
}

void MonteCarloSearch::decide(std::int64_t k) {
  Rng rng = stream_rng(seed_, std::uint64_t(k));
  std::optional<Sample> s;
  if (phase_of(k) != Phase::random && settings_.moves) {
    s = move_sample(k, rng);
    // No trained sample to move from, or none of max_tries moves gave a new architecture
    // within the constraints: a fresh draw, which says so.
    if (!s) {
      s = draw_sample(k);
      s->move_text = "draw (no move applied)";
    }
  } else {
    s = draw_sample(k);
  }
  s->index = k;
  s->phase = phase_of(k);
  hashes_.insert(std::upper_bound(hashes_.begin(), hashes_.end(), s->draw.hash), s->draw.hash);
  samples_.push_back(std::move(*s));
}

void MonteCarloSearch::finish(std::int64_t k, bool ok, double loss, double accuracy) {
  Sample& s = samples_.at(std::size_t(k));
  s.finished = true;
  s.ok = ok && std::isfinite(loss);
  s.loss = loss;
  s.accuracy = accuracy;
  s.objective = s.ok ? objective(loss, s.draw.metrics) : std::numeric_limits<double>::infinity();
}

TrainJob sample_job(const Sample& s, const DatasetSpec& dataset, const TrainingConfig& config,
                    std::uint64_t stage_seed, bool keep_weights, const Registry& registry) {
  TrainJob job;
  job.architecture_hash = s.draw.hash;
  job.architecture_json = s.draw.json;
  job.dataset = dataset;
  job.config = config;
  job.seed = content_seed(fmt::format("{}|monte_carlo|{}", stage_seed, s.draw.hash));
  job.keep_weights = keep_weights;
  job.make_key(registry);
  return job;
}

std::vector<std::int64_t> ensemble_members(const MonteCarloSearch& search, std::size_t size,
                                           const Constraints& bounds) {
  std::vector<std::int64_t> out;
  std::vector<Metrics> metrics;
  for (std::int64_t k : search.ranking(search.total() - 1, Phase::full)) {
    if (out.size() >= size) break;
    metrics.push_back(search.samples()[std::size_t(k)].draw.metrics);
    if (bounds.violated(ensemble_metrics(metrics))) {  // no architecture: latency not checked
      metrics.pop_back();
      continue;
    }
    out.push_back(k);
  }
  return out;
}

void train_samples(
    MonteCarloSearch& search, TrainingService& service,
    const std::function<TrainJob(const Sample&)>& job,
    const std::function<std::optional<TrainResult>(const TrainJob&)>& stored,
    const std::function<void(const Sample&, const TrainJob&, const TrainResult&, bool)>& finished) {
  std::map<std::string, std::pair<std::int64_t, TrainJob>> running;  // by training key
  auto finish = [&](std::int64_t k, const TrainJob& j, const TrainResult& r, bool was_stored) {
    search.finish(k, r.status == "ok", r.validation.loss, r.validation.accuracy);
    finished(search.samples()[std::size_t(k)], j, r, was_stored);
  };
  service.run_stream(
      [&]() -> std::optional<TrainJob> {
        // The first sample that must train is handed out; stored ones finish on the way.
        while (auto k = search.next()) {
          TrainJob j = job(search.samples()[std::size_t(*k)]);
          if (auto r = stored(j)) {
            finish(*k, j, *r, true);
            continue;
          }
          if (running.count(j.key))
            throw Error(fmt::format("sample {} trains the same job as sample {} ({})", *k,
                                    running.at(j.key).first, j.key));
          running.emplace(j.key, std::make_pair(*k, j));
          return j;
        }
        return std::nullopt;
      },
      [&](const TrainResult& r) {
        auto it = running.find(r.key);
        if (it == running.end())
          throw Error(fmt::format("the training service returned a result for job {}, which "
                                  "the search did not hand out",
                                  r.key));
        const auto [k, j] = std::move(it->second);
        running.erase(it);
        finish(k, j, r, false);
      });
  if (!search.done())
    throw Error(fmt::format("the training service ended the stream with {} of {} samples "
                            "finished",
                            std::count_if(search.samples().begin(), search.samples().end(),
                                          [](const Sample& x) { return x.finished; }),
                            search.total()));
}

}  // namespace narrow::strategies
