#define BOOST_TEST_MODULE ensemble
// The vote of an ensemble (narrow/ensemble.hpp) on hand-made probabilities: majority and mean
// decide differently, ties of the majority go to the highest mean probability, the loss is the
// cross-entropy of the mean, and the metrics of an ensemble are its members' summed.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include "narrow/ensemble.hpp"
#include "narrow/errors.hpp"
#include "narrow/training.hpp"

using namespace narrow;

BOOST_AUTO_TEST_CASE(majority_and_mean_decide_differently) {
  // Three members, two classes, one image of class 0: two members lean to class 1 a little,
  // one is sure of class 0.
  const std::vector<std::vector<float>> p{{0.45f, 0.55f}, {0.45f, 0.55f}, {0.99f, 0.01f}};
  const std::vector<std::int32_t> labels{0};
  const Evaluation majority = vote(p, labels, 2, Vote::majority);
  const Evaluation mean = vote(p, labels, 2, Vote::mean);
  BOOST_TEST(majority.accuracy == 0.0);  // two votes for class 1
  BOOST_TEST(majority.confusion[0][1] == 1);
  BOOST_TEST(mean.accuracy == 1.0);  // mean 0.63 for class 0
  BOOST_TEST(mean.confusion[0][0] == 1);
  // The loss is the cross-entropy of the mean probability, whatever the vote.
  const double expected = -std::log((0.45 + 0.45 + 0.99) / 3);
  BOOST_TEST(majority.loss == expected, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(mean.loss == expected, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(a_tied_vote_goes_to_the_highest_mean_probability) {
  // Two members, three classes, two images. Image 0: votes 1 and 2, mean higher for 2.
  // Image 1: votes 0 and 0.
  const std::vector<std::vector<float>> p{{0.1f, 0.5f, 0.4f, 0.8f, 0.1f, 0.1f},
                                          {0.1f, 0.2f, 0.7f, 0.6f, 0.3f, 0.1f}};
  const Evaluation e = vote(p, {2, 1}, 3, Vote::majority);
  BOOST_TEST(e.count == 2);
  BOOST_TEST(e.confusion[2][2] == 1);  // image 0: class 2
  BOOST_TEST(e.confusion[1][0] == 1);  // image 1: class 0, its label 1
  BOOST_TEST(e.accuracy == 0.5);
}

BOOST_AUTO_TEST_CASE(one_member_is_its_own_argmax) {
  const std::vector<std::vector<float>> p{{0.2f, 0.3f, 0.5f, 0.6f, 0.3f, 0.1f}};
  for (Vote v : {Vote::majority, Vote::mean}) {
    const Evaluation e = vote(p, {2, 1}, 3, v);
    BOOST_TEST(e.accuracy == 0.5);
    BOOST_TEST(e.loss == (-std::log(0.5) - std::log(0.3)) / 2, boost::test_tools::tolerance(1e-6));
  }
}

BOOST_AUTO_TEST_CASE(sizes_that_disagree_are_refused) {
  BOOST_CHECK_THROW(vote({}, {0}, 2, Vote::mean), InputError);
  BOOST_CHECK_THROW(vote({{0.5f, 0.5f}, {1.0f}}, {0}, 2, Vote::mean), InputError);
  BOOST_CHECK_THROW(vote({{0.5f, 0.5f}}, {2}, 2, Vote::mean), InputError);
  BOOST_CHECK_THROW(parse_vote("plurality"), InputError);
  BOOST_TEST(vote_name(parse_vote("mean")) == "mean");
}

BOOST_AUTO_TEST_CASE(an_ensemble_stores_and_computes_all_its_members) {
  Metrics a, b;
  a.params = 100;
  a.flops = 2000;
  a.memory_eq6_bytes = 900;
  b.params = 50;
  b.flops = 700;
  b.memory_eq6_bytes = 400;
  const Metrics sum = ensemble_metrics({a, b});
  BOOST_TEST(sum.params == 150);
  BOOST_TEST(sum.flops == 2700);
  BOOST_TEST(sum.memory_eq6_bytes == 1300);
}
