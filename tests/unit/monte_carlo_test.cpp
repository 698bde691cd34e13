#define BOOST_TEST_MODULE monte_carlo
// The decisions of the monte_carlo strategy (strategies/monte_carlo/search.hpp) on the
// `sequential` space with a synthetic objective instead of trainings: phases and horizons,
// constraints and repeated architectures refused, coordinate descent that goes on while J
// improves and stops when it does not, parents among the N best, the same samples whatever the
// order results come back in, and asynchronous dispatch on a simulated training service.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "narrow/constraints.hpp"
#include "narrow/space.hpp"
#include "search.hpp"
#include "support/spaces.hpp"

using namespace narrow;
using namespace narrow::strategies;
using narrow::test::registry;

// Boost.Test prints the operands of a failed comparison.
namespace narrow {
inline std::ostream& operator<<(std::ostream& os, DrawStatus s) { return os << draw_status_name(s); }
namespace strategies {
inline std::ostream& operator<<(std::ostream& os, Phase p) { return os << phase_name(p); }
}  // namespace strategies
}  // namespace narrow

namespace {

std::unique_ptr<SearchSpace> space() {
  return registry().create_space("sequential", {{"input", "[1,28,28]"},
                                                {"max_conv_layers", "3"},
                                                {"max_fc_layers", "1"},
                                                {"max_filters", "64"},
                                                {"max_units", "64"}});
}

// A synthetic loss with one best architecture: two conv layers of 24 filters, and as few
// parameters as that allows.
double synthetic_loss(const SearchSpace& s, const Sample& sample) {
  const Assignment& a = sample.draw.assignment;
  const auto& vars = s.variables();
  double loss = 0.2 * std::abs(double(a[s.variable_index("conv_layers")]) - 2);
  for (std::size_t i = 0; i < vars.size(); ++i)
    if (s.active(a, i) && vars[i].name.find(".filters") != std::string::npos)
      loss += std::abs(std::log(double(a[i]) / 24.0));
  return loss;
}

SearchSettings small(int workers = 1) {
  SearchSettings st;
  st.random = 6;
  st.traction = 14;
  st.full = 4;
  st.workers = workers;
  st.beta = 1e-7;
  return st;
}

// Runs a search to the end with results that come back in the order of `order` among the
// samples running (0: the oldest first), and returns the samples.
std::vector<Sample> run(MonteCarloSearch& search, const SearchSpace& s, bool newest_first) {
  std::vector<std::int64_t> running;
  while (!search.done()) {
    while (auto k = search.next()) running.push_back(*k);
    BOOST_REQUIRE(!running.empty());
    const std::int64_t k = newest_first ? running.back() : running.front();
    running.erase(std::find(running.begin(), running.end(), k));
    search.finish(k, true, synthetic_loss(s, search.samples()[std::size_t(k)]), 0.5);
  }
  return search.samples();
}

std::vector<std::string> hashes(const std::vector<Sample>& samples) {
  std::vector<std::string> out;
  for (const auto& s : samples) out.push_back(s.draw.hash);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(phases_and_horizons) {
  auto s = space();
  SearchSettings st = small(1);
  MonteCarloSearch sync(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 1);
  BOOST_TEST(sync.total() == 24);
  BOOST_TEST(sync.phase_of(5) == Phase::random);
  BOOST_TEST(sync.phase_of(6) == Phase::traction);
  BOOST_TEST(sync.phase_of(19) == Phase::traction);
  BOOST_TEST(sync.phase_of(20) == Phase::full);
  BOOST_TEST(sync.horizon(3) == -1);
  BOOST_TEST(sync.horizon(6) == 5);
  BOOST_TEST(sync.horizon(21) == 20);

  st.workers = 2;
  MonteCarloSearch async(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 1);
  BOOST_TEST(async.horizon(6) == 4);
  BOOST_TEST(async.horizon(9) == 7);

  st.workers = 4;
  st.batch = true;
  MonteCarloSearch batch(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 1);
  for (std::int64_t k = 6; k < 10; ++k) BOOST_TEST(batch.horizon(k) == 5);
  for (std::int64_t k = 10; k < 14; ++k) BOOST_TEST(batch.horizon(k) == 9);

  st.moves = false;
  MonteCarloSearch random(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 1);
  BOOST_TEST(random.horizon(12) == -1);
}

BOOST_AUTO_TEST_CASE(the_random_phase_starts_at_once_and_moves_wait_for_their_horizon) {
  auto s = space();
  MonteCarloSearch search(*s, {SamplingLaw::uniform(s->variables())}, {}, small(1), 7);
  for (std::int64_t k = 0; k < 6; ++k) BOOST_TEST(search.next().value() == k);
  // Sample 6 moves from the best of 0..5: it waits for all of them.
  BOOST_TEST(!search.next());
  for (std::int64_t k = 0; k < 5; ++k) search.finish(k, true, 1.0 + double(k), 0.5);
  BOOST_TEST(!search.next());
  search.finish(5, true, 0.5, 0.5);
  BOOST_TEST(search.next().value() == 6);
  const Sample& moved = search.samples()[6];
  BOOST_TEST(moved.parent == 5);  // the best J
  BOOST_TEST(moved.move.has_value());
  BOOST_TEST(moved.phase == Phase::traction);
}

BOOST_AUTO_TEST_CASE(constraints_hold_and_no_architecture_repeats) {
  auto s = space();
  Constraints bounds;
  Constraint c;
  c.metric = "params";
  c.max = 20000;
  c.text = "20000";
  bounds.bounds.push_back(c);
  MonteCarloSearch search(*s, {SamplingLaw::uniform(s->variables())}, bounds, small(1), 3);
  const auto samples = run(search, *s, false);
  std::set<std::string> seen;
  std::int64_t refused = 0;
  for (const Sample& x : samples) {
    BOOST_TEST(x.draw.status == DrawStatus::accepted);
    BOOST_TEST(x.draw.metrics.params <= 20000);
    BOOST_TEST(seen.insert(x.draw.hash).second);
    refused += x.refused;
  }
  // The uniform law breaks this bound often: the draws said how often they were refused.
  BOOST_TEST(refused > 0);
}

BOOST_AUTO_TEST_CASE(descent_goes_on_while_the_objective_improves) {
  auto s = space();
  SearchSettings st = small(1);
  st.traction = 80;  // enough moves that some scale the filters, which the loss rewards
  MonteCarloSearch search(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 11);
  const auto samples = run(search, *s, false);
  std::int64_t continued = 0, stopped = 0;
  for (const Sample& x : samples) {
    if (x.phase == Phase::random || x.parent < 0) continue;
    // Synchronous: the parent is the best of every sample before.
    double best = INFINITY;
    for (std::int64_t i = 0; i < x.index; ++i) best = std::min(best, samples[std::size_t(i)].objective);
    BOOST_TEST(samples[std::size_t(x.parent)].objective == best);
    const Sample& p = samples[std::size_t(x.parent)];
    const bool improved_by_scaling = p.move && p.move->kind == Move::Kind::scale &&
                                     p.parent >= 0 &&
                                     p.objective < samples[std::size_t(p.parent)].objective;
    const bool descent = x.move_text.find("(descent)") != std::string::npos;
    if (descent) {
      // A descent step repeats the move that improved its parent.
      BOOST_TEST(improved_by_scaling);
      BOOST_TEST(x.move->variable == p.move->variable);
      BOOST_TEST(x.move->direction == p.move->direction);
      ++continued;
    } else if (improved_by_scaling && !x.move_text.starts_with("draw")) {
      ++stopped;  // the step would repeat an architecture or leave the bounds
    }
  }
  BOOST_TEST_MESSAGE(continued << " descent steps, " << stopped << " descents ended");
  BOOST_TEST(continued > 0);
  // The objective improves from the random phase to the end.
  double random_best = INFINITY, final_best = INFINITY;
  for (const Sample& x : samples)
    (x.phase == Phase::random ? random_best : final_best) =
        std::min(x.phase == Phase::random ? random_best : final_best, x.objective);
  BOOST_TEST(final_best < random_best);
}

// A scaling move that improves is followed by the same move again (a descent step); a step
// that improves is followed by one more; a step that does not improve ends the descent, and the
// next sample moves afresh from the best. Objectives are set by hand; seeds are tried until one
// offers a scaling move whose two further steps both apply.
BOOST_AUTO_TEST_CASE(descent_goes_on_while_steps_improve_and_stops_when_one_does_not) {
  auto s = space();
  SearchSettings st = small(1);
  st.traction = 40;
  bool seen = false;
  for (std::uint64_t seed = 1; seed <= 50 && !seen; ++seed) {
    MonteCarloSearch search(*s, {SamplingLaw::uniform(s->variables())}, {}, st, seed);
    for (std::int64_t k = 0; k < st.random; ++k) search.next();
    for (std::int64_t k = 0; k < st.random; ++k) search.finish(k, true, k == 2 ? 0.1 : 1.0, 0.5);
    const auto sample = [&](std::int64_t k) -> const Sample& {
      return search.samples()[std::size_t(k)];
    };
    const auto is_descent = [&](std::int64_t k) {
      return sample(k).move_text.find("(descent)") != std::string::npos;
    };
    // Moves from sample 2 until one scales a coordinate; the others do worse.
    std::int64_t k = *search.next();
    for (int i = 0; i < 20 && !(sample(k).move && sample(k).move->kind == Move::Kind::scale); ++i) {
      BOOST_TEST(!is_descent(k));
      search.finish(k, true, 5.0, 0.5);
      k = *search.next();
    }
    if (!(sample(k).move && sample(k).move->kind == Move::Kind::scale)) continue;
    BOOST_TEST(sample(k).parent == 2);
    search.finish(k, true, 0.05, 0.5);  // better than sample 2
    const std::int64_t step = *search.next();
    if (!is_descent(step)) continue;  // the coordinate was at its bound
    BOOST_TEST(sample(step).parent == k);
    BOOST_TEST(sample(step).move->variable == sample(k).move->variable);
    BOOST_TEST(sample(step).move->direction == sample(k).move->direction);
    search.finish(step, true, 0.04, 0.5);  // better again: one more step
    const std::int64_t again = *search.next();
    if (!is_descent(again)) continue;
    BOOST_TEST(sample(again).parent == step);
    search.finish(again, true, 0.045, 0.5);  // no better: the descent ends
    const std::int64_t after = *search.next();
    BOOST_TEST(!is_descent(after));
    BOOST_TEST(sample(after).parent == step);  // the best so far
    seen = true;
  }
  BOOST_TEST(seen, "no seed of 50 gave two descent steps in a row");
}

BOOST_AUTO_TEST_CASE(the_order_results_come_back_in_changes_nothing) {
  auto s = space();
  for (int workers : {1, 2, 3}) {
    MonteCarloSearch a(*s, {SamplingLaw::uniform(s->variables())}, {}, small(workers), 21);
    MonteCarloSearch b(*s, {SamplingLaw::uniform(s->variables())}, {}, small(workers), 21);
    BOOST_TEST(hashes(run(a, *s, false)) == hashes(run(b, *s, true)));
  }
  MonteCarloSearch c(*s, {SamplingLaw::uniform(s->variables())}, {}, small(1), 22);
  MonteCarloSearch d(*s, {SamplingLaw::uniform(s->variables())}, {}, small(1), 21);
  BOOST_TEST(hashes(run(c, *s, false)) != hashes(run(d, *s, false)));
}

BOOST_AUTO_TEST_CASE(n_best_parents_come_from_the_n_best) {
  auto s = space();
  SearchSettings st = small(4);
  st.batch = true;
  st.parents = 4;
  MonteCarloSearch search(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 9);
  const auto samples = run(search, *s, true);
  std::set<std::int64_t> parents;
  for (const Sample& x : samples) {
    if (x.phase == Phase::random || x.parent < 0) continue;
    const auto ranked = search.ranking(search.horizon(x.index));
    const auto top = std::vector<std::int64_t>(
        ranked.begin(), ranked.begin() + std::min<std::ptrdiff_t>(4, std::ptrdiff_t(ranked.size())));
    BOOST_TEST((std::find(top.begin(), top.end(), x.parent) != top.end()));
    parents.insert(x.parent);
  }
  BOOST_TEST(parents.size() > 1u);
}

BOOST_AUTO_TEST_CASE(moves_off_is_random_search) {
  auto s = space();
  SearchSettings st = small(2);
  st.moves = false;
  MonteCarloSearch search(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 4);
  // Every sample can be decided at once: none waits for a result.
  for (std::int64_t k = 0; k < search.total(); ++k) BOOST_TEST(search.next().value() == k);
  for (const Sample& x : search.samples()) {
    BOOST_TEST(x.parent == -1);
    BOOST_TEST(x.move_text == "draw");
  }
}

BOOST_AUTO_TEST_CASE(a_failed_training_is_never_the_best) {
  auto s = space();
  MonteCarloSearch search(*s, {SamplingLaw::uniform(s->variables())}, {}, small(1), 2);
  for (std::int64_t k = 0; k < 6; ++k) search.next();
  search.finish(0, false, NAN, 0.1);
  for (std::int64_t k = 1; k < 6; ++k) search.finish(k, true, 2.0 - 0.1 * double(k), 0.5);
  const auto ranked = search.ranking(5);
  BOOST_TEST(ranked.size() == 5u);
  BOOST_TEST(ranked.front() == 5);
  BOOST_TEST(std::isinf(search.samples()[0].objective));
}

BOOST_AUTO_TEST_CASE(a_regularizer_that_is_no_metric_is_refused) {
  auto s = space();
  SearchSettings st = small();
  st.regularizer = "weights";
  BOOST_CHECK_THROW(MonteCarloSearch(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 1),
                    InputError);
}

// A simulated training service: `workers` at once, each training lasting a time drawn from the
// architecture, on a simulated clock; returns when the last one ends.
double simulate(MonteCarloSearch& search, const SearchSpace& s, int workers,
                std::int64_t& most_running) {
  std::multimap<double, std::int64_t> running;  // end time -> sample
  double now = 0;
  most_running = 0;
  while (!search.done()) {
    while (std::int64_t(running.size()) < workers) {
      const auto k = search.next();
      if (!k) break;
      const auto& x = search.samples()[std::size_t(*k)];
      // 1 to 2 time units, by the architecture.
      const double length = 1.0 + double(std::hash<std::string>{}(x.draw.hash) % 1000) / 1000.0;
      running.emplace(now + length, *k);
    }
    most_running = std::max<std::int64_t>(most_running, std::int64_t(running.size()));
    BOOST_REQUIRE(!running.empty());
    const auto first = running.begin();
    now = first->first;
    const std::int64_t k = first->second;
    running.erase(first);
    search.finish(k, true, synthetic_loss(s, search.samples()[std::size_t(k)]), 0.5);
  }
  return now;
}

BOOST_AUTO_TEST_CASE(asynchronous_dispatch_keeps_the_workers_busy) {
  auto s = space();
  SearchSettings st = small(1);
  st.random = 4;
  st.traction = 40;
  st.full = 10;
  std::int64_t most1 = 0, most2 = 0;
  MonteCarloSearch sync(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 13);
  // The synchronous search on a service of two workers: only the random phase runs two.
  const double t1 = simulate(sync, *s, 2, most1);
  st.workers = 2;
  MonteCarloSearch async(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 13);
  const double t2 = simulate(async, *s, 2, most2);
  BOOST_TEST(most1 == 2);
  BOOST_TEST(most2 == 2);
  // Trainings of 1 to 2 time units finishing out of order make a worker wait now and then;
  // the asynchronous search still ends far sooner than the synchronous one.
  BOOST_TEST_MESSAGE("simulated: synchronous " << t1 << ", asynchronous " << t2);
  BOOST_TEST(t2 < 0.7 * t1);
  BOOST_TEST(async.samples().size() == sync.samples().size());
}

namespace {

// A training service without trainings: `workers` slots, each job "trained" at once to a loss
// drawn from its architecture's hash; the running job that finishes next is the newest or the
// oldest. Counts the jobs it was handed.
class FakeService final : public TrainingService {
 public:
  FakeService(int workers, bool newest_first) : workers_(workers), newest_first_(newest_first) {}
  int jobs() const override { return workers_; }
  int threads_per_job() const override { return 1; }
  void run(const std::vector<TrainJob>&, const std::function<void(const TrainResult&)>&) override {
    BOOST_FAIL("the search trains through run_stream");
  }
  void evaluate_precision(const std::vector<PrecisionJob>&,
                          const std::function<void(std::size_t, std::size_t,
                                                   const PrecisionResult&)>&) override {
    BOOST_FAIL("the search evaluates no precision");
  }
  std::pair<Evaluation, Evaluation> evaluate_ensemble(const EnsembleJob&) override {
    BOOST_FAIL("the search evaluates no ensemble here");
    return {};
  }
  void run_stream(const std::function<std::optional<TrainJob>()>& next,
                  const std::function<void(const TrainResult&)>& on_result) override {
    std::vector<TrainJob> running;
    for (;;) {
      while (int(running.size()) < workers_) {
        auto j = next();
        if (!j) break;
        running.push_back(*j);
        ++handed;
        most_running = std::max(most_running, int(running.size()));
      }
      if (running.empty()) return;
      const auto it = newest_first_ ? running.end() - 1 : running.begin();
      TrainResult r;
      r.key = it->key;
      r.architecture_hash = it->architecture_hash;
      r.validation.loss = 0.1 + double(std::hash<std::string>{}(it->architecture_hash) % 1000) / 500;
      r.validation.accuracy = 0.5;
      running.erase(it);
      on_result(r);
    }
  }
  int handed = 0, most_running = 0;

 private:
  int workers_;
  bool newest_first_;
};

TrainJob job_of(const Sample& s) {
  TrainJob j;
  j.architecture_hash = s.draw.hash;
  j.key = "job-" + s.draw.hash + (s.phase == Phase::full ? "-full" : "-traction");
  return j;
}

}  // namespace

BOOST_AUTO_TEST_CASE(samples_train_as_a_stream_and_stored_ones_are_not_trained_again) {
  auto s = space();
  const SearchSettings st = small(2);
  std::map<std::string, TrainResult> stored;  // by job key
  std::vector<std::string> first;
  {
    MonteCarloSearch search(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 31);
    FakeService service(2, true);
    train_samples(
        search, service, job_of, [](const TrainJob&) { return std::optional<TrainResult>(); },
        [&](const Sample&, const TrainJob& j, const TrainResult& r, bool was_stored) {
          BOOST_TEST(!was_stored);
          stored[j.key] = r;
        });
    BOOST_TEST(service.handed == search.total());
    BOOST_TEST(service.most_running == 2);
    first = hashes(search.samples());
  }
  // A resumed run: the first ten samples' trainings are stored; the rest train.
  std::set<std::string> kept;
  for (const auto& h : std::vector<std::string>(first.begin(), first.begin() + 10)) kept.insert(h);
  MonteCarloSearch again(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 31);
  FakeService service(2, false);
  int from_store = 0;
  train_samples(
      again, service, job_of,
      [&](const TrainJob& j) -> std::optional<TrainResult> {
        if (!kept.count(j.architecture_hash)) return std::nullopt;
        return stored.at(j.key);
      },
      [&](const Sample&, const TrainJob&, const TrainResult&, bool was_stored) {
        from_store += was_stored;
      });
  BOOST_TEST(from_store == 10);
  BOOST_TEST(service.handed == again.total() - 10);
  BOOST_TEST(hashes(again.samples()) == first);
}

BOOST_AUTO_TEST_CASE(an_ensemble_counts_all_its_members_against_the_bounds) {
  auto s = space();
  SearchSettings st = small(1);
  st.full = 8;
  MonteCarloSearch search(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 17);
  run(search, *s, false);
  const auto full = search.ranking(search.total() - 1, Phase::full);
  BOOST_REQUIRE(full.size() == 8u);
  // Without bounds: the best by J.
  BOOST_TEST(ensemble_members(search, 4, {}) ==
             std::vector<std::int64_t>(full.begin(), full.begin() + 4));
  // A params bound of the best two's sum, less one: the second no longer fits beside the
  // first, and every member taken keeps the sum within it.
  const auto params = [&](std::int64_t k) { return search.samples()[std::size_t(k)].draw.metrics.params; };
  Constraints bounds;
  Constraint c;
  c.metric = "params";
  c.max = double(params(full[0]) + params(full[1]) - 1);
  c.text = "test";
  bounds.bounds.push_back(c);
  const auto members = ensemble_members(search, 4, bounds);
  BOOST_REQUIRE(!members.empty());
  BOOST_TEST(members.front() == full[0]);
  BOOST_TEST((std::find(members.begin(), members.end(), full[1]) == members.end()));
  std::int64_t sum = 0;
  for (auto k : members) sum += params(k);
  BOOST_TEST(double(sum) <= c.max);
  // Members keep the order of J.
  for (std::size_t i = 1; i < members.size(); ++i)
    BOOST_TEST(search.samples()[std::size_t(members[i - 1])].objective <=
               search.samples()[std::size_t(members[i])].objective);
}

// The moves come from the space's variables: `resnet` and `mobilenet` are searched as they are,
// with meta moves (stages added and removed) and layer moves, every sample valid and new.
BOOST_AUTO_TEST_CASE(resnet_and_mobilenet_are_searched_with_moves) {
  for (const char* name : {"resnet", "mobilenet"}) {
    BOOST_TEST_CONTEXT("space " << name) {
      auto s = registry().create_space(name, {{"input", "[1,28,28]"}, {"classes", "10"}});
      SearchSettings st = small(1);
      st.traction = 30;
      MonteCarloSearch search(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 3);
      std::set<std::string> seen;
      std::int64_t meta = 0, layer = 0;
      while (!search.done()) {
        const auto k = search.next();
        BOOST_REQUIRE(k.has_value());
        const Sample& x = search.samples()[std::size_t(*k)];
        BOOST_TEST(x.draw.status == DrawStatus::accepted);
        BOOST_TEST(seen.insert(x.draw.hash).second);
        if (x.move) (x.move->kind == Move::Kind::scale ? layer : meta) += 1;
        // A loss that favours fewer parameters, so that the best moves around.
        search.finish(*k, true, std::log(double(x.draw.metrics.params)), 0.5);
      }
      BOOST_TEST(meta > 0);
      BOOST_TEST(layer > 0);
    }
  }
}

// The draws decided ahead, in batches on several threads, are the samples the stream would
// have drawn one by one.
BOOST_AUTO_TEST_CASE(draws_decided_ahead_are_the_same_samples) {
  auto s = space();
  for (bool moves : {true, false}) {
    SearchSettings st = small(2);
    st.moves = moves;
    MonteCarloSearch one(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 41);
    MonteCarloSearch ahead(*s, {SamplingLaw::uniform(s->variables())}, {}, st, 41);
    ahead.decide_draws_ahead(3);
    BOOST_TEST(ahead.samples().size() == std::size_t(moves ? st.random : one.total()));
    BOOST_TEST(hashes(run(one, *s, false)) == hashes(run(ahead, *s, true)));
  }
}
