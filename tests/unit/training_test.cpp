#define BOOST_TEST_MODULE training
// The one rule that picks "the best training" everywhere (train summary, precision stage,
// `narrow evaluate`, `narrow precision`).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "narrow/training.hpp"

using narrow::TrainResult;

namespace {
TrainResult training(const std::string& key, double val, const std::string& status = "ok") {
  TrainResult t;
  t.key = key;
  t.architecture_hash = "h" + key;
  t.status = status;
  t.validation.accuracy = val;
  return t;
}
}  // namespace

BOOST_AUTO_TEST_CASE(higher_validation_accuracy_ranks_first_and_ties_go_to_the_smaller_key) {
  BOOST_TEST(narrow::ranks_before(training("b", 0.9), training("a", 0.8)));
  BOOST_TEST(!narrow::ranks_before(training("a", 0.8), training("b", 0.9)));
  BOOST_TEST(narrow::ranks_before(training("a", 0.8), training("b", 0.8)));
  BOOST_TEST(!narrow::ranks_before(training("b", 0.8), training("a", 0.8)));
  BOOST_TEST(!narrow::ranks_before(training("a", 0.8), training("a", 0.8)));  // strict
  // A failed training ranks after every successful one, whatever its accuracy.
  BOOST_TEST(narrow::ranks_before(training("z", 0.1), training("a", 0.99, "failed")));
}

BOOST_AUTO_TEST_CASE(best_training_skips_failed_ones_and_breaks_ties_by_key) {
  std::vector<TrainResult> ts{training("c", 0.7), training("d", 0.95, "failed"),
                              training("b", 0.9), training("a", 0.9)};
  const TrainResult* best = narrow::best_training(ts);
  BOOST_REQUIRE(best);
  BOOST_TEST(best->key == "a");
  // The order of the input does not matter.
  std::reverse(ts.begin(), ts.end());
  BOOST_TEST(narrow::best_training(ts)->key == "a");
  std::sort(ts.begin(), ts.end(), narrow::ranks_before);
  BOOST_TEST(ts.front().key == "a");
  BOOST_TEST(ts[1].key == "b");
  BOOST_TEST(ts.back().key == "d");
  BOOST_TEST(narrow::best_training({training("x", 0.5, "failed")}) == nullptr);
  BOOST_TEST(narrow::best_training({}) == nullptr);
}
