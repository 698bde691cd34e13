#define BOOST_TEST_MODULE pareto
// Pareto fronts, best formats within an accuracy drop, and the best format of a width.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "narrow/pareto.hpp"

using narrow::PrecisionPoint;

namespace {

PrecisionPoint point(const std::string& model, const std::string& format, int bits,
                     std::int64_t bytes, double accuracy) {
  PrecisionPoint p;
  p.model = model;
  p.result.format = format;
  p.result.bits = bits;
  p.result.weight_bytes = bytes;
  p.result.evaluation.accuracy = accuracy;
  return p;
}

// Two models, a small and a large one, each in float32 and three reduced formats.
std::vector<PrecisionPoint> grid() {
  return {
      point("small", "float32", 32, 400, 0.80),   // 0
      point("small", "half", 16, 200, 0.80),      // 1
      point("small", "ieee(4,3)", 8, 100, 0.79),  // 2
      point("small", "ieee(2,1)", 4, 50, 0.30),   // 3
      point("large", "float32", 32, 4000, 0.90),  // 4
      point("large", "half", 16, 2000, 0.895),    // 5
      point("large", "ieee(4,3)", 8, 1000, 0.88), // 6
      point("large", "ieee(2,1)", 4, 500, 0.10),  // 7
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(front_keeps_only_points_no_other_dominates) {
  const auto ps = grid();
  const auto front = narrow::pareto_front(ps);
  // By bytes: 50 (0.30), 100 (0.79), 200 (0.80), 1000 (0.88), 2000 (0.895), 4000 (0.90);
  // 400 (small float32, 0.80) is dominated by half at 200 and 500 (0.10) by everything cheaper.
  BOOST_TEST(front == (std::vector<std::size_t>{3, 2, 1, 6, 5, 4}), boost::test_tools::per_element());
  // Every point left out is dominated by one on the front.
  for (std::size_t i = 0; i < ps.size(); ++i) {
    bool on = false, dominated = false;
    for (std::size_t f : front) {
      on = on || f == i;
      const auto &a = ps[f].result, &b = ps[i].result;
      dominated = dominated ||
                  (a.weight_bytes <= b.weight_bytes &&
                   a.evaluation.accuracy >= b.evaluation.accuracy &&
                   (a.weight_bytes < b.weight_bytes || a.evaluation.accuracy > b.evaluation.accuracy));
    }
    BOOST_TEST((on || dominated), "point " << i);
  }
}

BOOST_AUTO_TEST_CASE(front_of_a_subset_and_ties) {
  const auto ps = grid();
  // Only the float32 points: both are on the front.
  BOOST_TEST(narrow::pareto_front(ps, {4, 0}) == (std::vector<std::size_t>{0, 4}),
             boost::test_tools::per_element());
  // Equal bytes and accuracy: the first one stays.
  std::vector<PrecisionPoint> tie = {point("a", "x", 8, 10, 0.5), point("b", "y", 8, 10, 0.5),
                                     point("c", "z", 8, 20, 0.5)};
  BOOST_TEST(narrow::pareto_front(tie) == (std::vector<std::size_t>{0}),
             boost::test_tools::per_element());
  BOOST_TEST(narrow::pareto_front({}).empty());
}

BOOST_AUTO_TEST_CASE(best_format_is_the_smallest_within_the_drop) {
  const auto ps = grid();
  // Within 1 point: small -> ieee(4,3) (0.79 >= 0.80 - 0.01), large -> half (0.88 < 0.89).
  auto best = narrow::best_formats(ps, 0.01);
  BOOST_TEST(best.at("small") == 2u);
  BOOST_TEST(best.at("large") == 5u);
  // No drop allowed: the formats that lose nothing.
  best = narrow::best_formats(ps, 0.0);
  BOOST_TEST(best.at("small") == 1u);
  BOOST_TEST(best.at("large") == 4u);
  // Anything goes: the smallest format.
  best = narrow::best_formats(ps, 1.0);
  BOOST_TEST(best.at("small") == 3u);
  BOOST_TEST(best.at("large") == 7u);
  // A model without its float32 evaluation has no best format.
  std::vector<PrecisionPoint> lone = {point("m", "half", 16, 20, 0.5)};
  BOOST_TEST(narrow::best_formats(lone, 0.5).empty());
}

BOOST_AUTO_TEST_CASE(best_format_of_a_width_by_mean_accuracy) {
  auto ps = grid();
  BOOST_TEST(*narrow::best_format_of_width(ps, 8) == "ieee(4,3)");
  ps.push_back(point("small", "e4m3", 8, 100, 0.80));
  ps.push_back(point("large", "e4m3", 8, 1000, 0.85));  // mean 0.825 < 0.835
  BOOST_TEST(*narrow::best_format_of_width(ps, 8) == "ieee(4,3)");
  ps.push_back(point("small", "fixed(3,4)", 8, 100, 0.80));
  ps.push_back(point("large", "fixed(3,4)", 8, 1000, 0.90));  // mean 0.85
  BOOST_TEST(*narrow::best_format_of_width(ps, 8) == "fixed(3,4)");
  BOOST_TEST(!narrow::best_format_of_width(ps, 12));
  BOOST_TEST(!narrow::best_format_of_width(ps, 32));  // float32 is the reference, not a format
}
