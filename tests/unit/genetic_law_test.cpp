#define BOOST_TEST_MODULE genetic_law
// The genetic law search without a store: the window grid, the cost of hand-made statistics,
// mutations that keep every range ordered and inside its bounds, one search as a fixed
// function of its seed, and a search that improves on its initial population.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <algorithm>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "law_search.hpp"
#include "narrow/constraints.hpp"
#include "narrow/errors.hpp"
#include "narrow/random.hpp"
#include "narrow/space.hpp"
#include "support/spaces.hpp"
#include "windows.hpp"

using namespace narrow;
using namespace narrow::genetic_law;

namespace {

std::unique_ptr<SearchSpace> sequential() {
  return test::registry().create_space("sequential", {{"input", "[3,32,32]"}});
}

// Tiny settings that keep a search well under a second.
Settings small() {
  Settings s;
  s.n_init = 12;
  s.n_steps = 60;
  s.n_eval = 5;
  s.tournament = 3;
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_grid_of_the_paper_has_twelve_windows) {
  const auto w = window_grid(3, 7);
  BOOST_REQUIRE_EQUAL(w.size(), 12u);
  BOOST_TEST(w[0].name == "1e3-2e3");
  BOOST_TEST(w[0].low_name == "1e3");
  BOOST_TEST(w[0].high_name == "2e3");
  BOOST_TEST(w[1].name == "2e3-5e3");
  BOOST_TEST(w[2].name == "5e3-1e4");
  BOOST_TEST(w[11].name == "5e6-1e7");
  BOOST_TEST(w[0].low == 1000.0);
  BOOST_TEST(w[0].high == 2000.0);
  BOOST_TEST(w[2].high == 10000.0);
  BOOST_TEST(w[11].high == 1e7);
  for (std::size_t i = 0; i + 1 < w.size(); ++i) BOOST_TEST(w[i].high == w[i + 1].low);
  // Seconds of latency: negative decades.
  const auto s = window_grid(-3, -2);
  BOOST_REQUIRE_EQUAL(s.size(), 3u);
  BOOST_TEST(s[0].name == "1e-3-2e-3");
  BOOST_TEST(std::abs(s[2].high - 0.01) < 1e-15);
  BOOST_CHECK_THROW(window_grid(5, 5), InputError);
  BOOST_CHECK_THROW(window_grid(7, 3), InputError);
}

BOOST_AUTO_TEST_CASE(a_margin_aims_inside_the_window_in_log10) {
  const Window w = window_grid(3, 4)[1];  // 2e3 .. 5e3: log10 width 0.39794
  const auto same = aim_inside(w, 0);
  BOOST_TEST(same.low == 2000.0);
  BOOST_TEST(same.high == 5000.0);
  // A quarter of the width on each side: log10 3.30103 + 0.099485 and 3.69897 - 0.099485.
  const auto in = aim_inside(w, 0.25);
  BOOST_TEST(std::abs(std::log10(in.low) - 3.400515) < 1e-6);
  BOOST_TEST(std::abs(std::log10(in.high) - 3.599485) < 1e-6);
  // The middle of the window stays where it is: sqrt(2000 * 5000).
  BOOST_TEST(std::abs(std::sqrt(in.low * in.high) - std::sqrt(1e7)) < 1e-6);
}

BOOST_AUTO_TEST_CASE(costs_of_a_hand_made_population) {
  // log10 values 3, 4, 5: mean 4, sample standard deviation 1.
  const LawStats a = summarize({3.0, 4.0, 5.0}, 1);
  BOOST_TEST(a.mean == 4.0);
  BOOST_TEST(a.sigma == 1.0);
  BOOST_TEST(a.accepted == 3);
  BOOST_TEST(a.refused == 1);
  // Window (1e3, 1e5): mean - sigma = 3 and mean + sigma = 5 hit it exactly.
  BOOST_TEST(window_cost(a.mean, a.sigma, 3.0, 5.0) == 0.0);
  // Window (1e3, 2e3): |4 - 1 - 3| + |4 + 1 - log10 2000|.
  BOOST_TEST(std::abs(window_cost(4, 1, 3, std::log10(2000.0)) - (5 - std::log10(2000.0))) <
             1e-12);
  // One refused draw of four adds a quarter of the penalty.
  BOOST_TEST(std::abs(law_cost(a, 3, 5, 2.0) - 0.5) < 1e-12);
  // Two equal values: sigma 0, |3.5 - 3| + |3.5 - 4|.
  const LawStats b = summarize({3.5, 3.5}, 0);
  BOOST_TEST(b.sigma == 0.0);
  BOOST_TEST(law_cost(b, 3, 4, 1.0) == 1.0);
  // Fewer than two accepted draws: no estimate, cost +infinity, written as null.
  const LawStats c = summarize({4.0}, 9);
  BOOST_TEST(c.sigma == 0.0);
  BOOST_TEST(std::isinf(law_cost(c, 3, 4, 1.0)));
  const LawStats d = summarize({}, 30);
  BOOST_TEST(std::isnan(d.mean));
  ScoredLaw law{{1, 2}, {3, 4}, law_cost(d, 3, 4, 1.0), d};
  const auto j = scored_law_json(law);
  BOOST_TEST(j.at("cost").is_null());
  BOOST_TEST(j.at("mean").is_null());
  BOOST_TEST(j.at("refused") == 30);
  BOOST_TEST(j.at("low") == nlohmann::json({1, 2}));
  ScoredLaw good{{1}, {1}, law_cost(a, 3, 5, 2.0), a};
  BOOST_TEST(scored_law_json(good).at("cost").get<double>() == good.cost);
  BOOST_TEST(scored_law_json(good).at("sigma").get<double>() == 1.0);
}

BOOST_AUTO_TEST_CASE(mutations_keep_ranges_ordered_and_inside_bounds) {
  // Integers (wide and narrow), a choice of four, two-valued choice and integer, a fixed one.
  std::vector<Variable> vars;
  using K = Variable::Kind;
  add_variable(vars, "depth", K::integer, 1, 8, {}, -1, 0, "");
  add_variable(vars, "width", K::integer, 1, 512, {}, 0, 2, "");
  add_variable(vars, "kernel", K::choice, 0, 3, {"1", "3", "5", "7"}, -1, 0, "");
  add_variable(vars, "flag", K::choice, 0, 1, {"no", "yes"}, -1, 0, "");
  add_variable(vars, "stride", K::integer, 1, 2, {}, -1, 0, "");
  add_variable(vars, "fixed", K::integer, 4, 4, {}, -1, 0, "");
  const auto seq = sequential();
  for (const auto* variables :
       std::vector<const std::vector<Variable>*>{&vars, &seq->variables()}) {
    Rng rng = stream_rng(7, 0);
    SamplingLaw law = random_law(*variables, rng);
    std::vector<int> moved(variables->size(), 0);
    for (int n = 0; n < 20000; ++n) {
      const SamplingLaw before = law;
      mutate(*variables, law, rng, n % 2 ? 0.3 : 0.0, 0.25);
      BOOST_REQUIRE(law.low != before.low || law.high != before.high);  // something moved
      for (std::size_t i = 0; i < variables->size(); ++i) {
        const auto& v = (*variables)[i];
        BOOST_REQUIRE_MESSAGE(v.min <= law.low[i] && law.low[i] <= law.high[i] &&
                                  law.high[i] <= v.max,
                              v.name << " [" << law.low[i] << ", " << law.high[i] << "] after "
                                     << n << " mutations");
        if (law.low[i] != before.low[i] || law.high[i] != before.high[i]) ++moved[i];
        if (two_valued(v) && law.low[i] != before.low[i] && law.high[i] != before.high[i])
          BOOST_REQUIRE(law.low[i] == law.high[i] || (law.low[i] == v.min && law.high[i] == v.max));
      }
    }
    for (std::size_t i = 0; i < variables->size(); ++i)
      BOOST_TEST((moved[i] > 0) == ((*variables)[i].max > (*variables)[i].min),
                 (*variables)[i].name);
    if (variables == &seq->variables()) BOOST_CHECK_NO_THROW(seq->check_law(law));
  }
}

BOOST_AUTO_TEST_CASE(two_valued_variables_take_each_of_their_three_ranges) {
  std::vector<Variable> vars;
  add_variable(vars, "flag", Variable::Kind::choice, 0, 1, {"no", "yes"}, -1, 0, "");
  add_variable(vars, "stride", Variable::Kind::integer, 1, 2, {}, -1, 0, "");
  BOOST_TEST(two_valued(vars[0]));
  BOOST_TEST(two_valued(vars[1]));
  Rng rng = stream_rng(3, 0);
  SamplingLaw law = random_law(vars, rng);
  std::set<std::pair<std::int64_t, std::int64_t>> seen[2];
  for (int n = 0; n < 200; ++n) {
    mutate(vars, law, rng, 0.5, 0.25);
    for (std::size_t i = 0; i < 2; ++i) seen[i].insert({law.low[i], law.high[i]});
  }
  BOOST_TEST(seen[0].size() == 3u);
  BOOST_TEST((seen[1] == std::set<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {2, 2}, {1, 2}}));
}

BOOST_AUTO_TEST_CASE(integer_moves_are_at_most_the_step_of_the_range) {
  std::vector<Variable> vars;
  add_variable(vars, "width", Variable::Kind::integer, 0, 100, {}, -1, 0, "");
  Rng rng = stream_rng(5, 0);
  SamplingLaw law{"", {50}, {50}};
  std::int64_t largest = 0;
  for (int n = 0; n < 2000; ++n) {
    const SamplingLaw before = law;
    mutate(vars, law, rng, 1.0, 0.1);
    largest = std::max({largest, std::abs(law.low[0] - before.low[0]),
                        std::abs(law.high[0] - before.high[0])});
  }
  BOOST_TEST(largest == 10);
}

BOOST_AUTO_TEST_CASE(a_search_is_a_function_of_its_seed) {
  const auto space = sequential();
  const Constraints none;
  const LawEvaluator evaluator(*space, none, "params");
  const Target target{"params", 1e4, 2e4};
  const auto a = search(evaluator, space->variables(), target, small(), 11);
  const auto b = search(evaluator, space->variables(), target, small(), 11);
  const auto c = search(evaluator, space->variables(), target, small(), 12);
  BOOST_REQUIRE_EQUAL(a.population.size(), 12u);
  auto text = [](const SearchResult& r) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& law : r.population) j.push_back(scored_law_json(law));
    return j.dump();
  };
  BOOST_TEST(text(a) == text(b));
  BOOST_TEST(a.best == b.best);
  BOOST_TEST(a.drawn == b.drawn);
  BOOST_TEST(text(a) != text(c));
  // Every evaluation drew until n_eval accepted or its budget (3 * n_eval) was spent.
  BOOST_TEST(a.accepted <= (12 + 60) * 5);
  BOOST_TEST(a.drawn <= (12 + 60) * 15);
  BOOST_TEST(a.drawn >= a.accepted);
  for (const auto& law : a.population) {
    BOOST_TEST((law.stats.accepted == 5 || law.stats.accepted + law.stats.refused == 15));
    SamplingLaw l{"x", law.low, law.high};
    BOOST_CHECK_NO_THROW(space->check_law(l));
  }
}

BOOST_AUTO_TEST_CASE(the_search_lowers_the_best_cost_of_its_initial_population) {
  const auto space = sequential();
  const Constraints none;
  const LawEvaluator evaluator(*space, none, "params");
  const Target target{"params", 1e4, 2e4};
  Settings start = small();
  start.n_steps = 0;
  Settings longer = small();
  longer.n_steps = 300;
  const auto a = search(evaluator, space->variables(), target, start, 21);
  const auto b = search(evaluator, space->variables(), target, longer, 21);
  const double initial = a.population[a.best].cost, final = b.population[b.best].cost;
  BOOST_TEST_MESSAGE("best cost " << initial << " -> " << final);
  BOOST_TEST(final < initial);
  // The final population is better than the initial one on the whole: the median cost falls.
  auto median = [](const SearchResult& r) {
    std::vector<double> costs;
    for (const auto& law : r.population) costs.push_back(law.cost);
    std::sort(costs.begin(), costs.end());
    return costs[costs.size() / 2];
  };
  BOOST_TEST(median(b) < median(a));
}

BOOST_AUTO_TEST_CASE(constraints_refuse_draws_and_the_penalty_counts_them) {
  const auto space = sequential();
  Constraints tight;
  tight.bounds.push_back(Constraint{"params", 20000, "20000", {}, false});
  const LawEvaluator evaluator(*space, tight, "params");
  const Constraints none;
  const LawEvaluator free(*space, none, "params");
  const SamplingLaw uniform = SamplingLaw::uniform(space->variables());
  std::int64_t drawn = 0;
  Rng r1 = stream_rng(1, 1), r2 = stream_rng(1, 1);
  const LawStats t = evaluator.evaluate(uniform, r1, 10, 200, drawn);
  std::int64_t drawn_free = 0;
  const LawStats f = free.evaluate(uniform, r2, 10, 200, drawn_free);
  BOOST_TEST(t.refused > f.refused);  // uniform draws are mostly far above 20,000 parameters
  BOOST_TEST(drawn == t.accepted + t.refused);
  BOOST_TEST(t.accepted <= 10);
  if (t.accepted > 0) BOOST_TEST(t.mean <= std::log10(20000.0));
  // Latency needs a device that predicts it; a metric must be one narrow computes.
  BOOST_CHECK_THROW(LawEvaluator(*space, none, "latency"), InputError);
  BOOST_CHECK_THROW(LawEvaluator(*space, none, "accuracy"), InputError);
}
