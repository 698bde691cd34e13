#define BOOST_TEST_MODULE coverage
// The coverage figures of the statistics strategy (Scheidegger et al. Figure 4 in
// docs/paper-figures.md): bins of a tenth of a decade gathered into decades, the decades
// holding at least 1 % of the draws, and the fullest over the emptiest decade of a range, on
// histograms worked out by hand.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <map>

#include "../../strategies/statistics/coverage.hpp"

using namespace narrow::strategies;
using Bins = std::map<std::int64_t, std::int64_t>;

BOOST_AUTO_TEST_CASE(bins_gather_into_their_decades) {
  // Ten bins per decade: bins 30..39 are [10^3, 10^4); bin 29 is the top of [10^2, 10^3);
  // bin -1 (values of 0) is its own decade below 10^0.
  const Bins bins{{-1, 2}, {0, 1}, {9, 4}, {29, 5}, {30, 7}, {39, 1}, {40, 3}};
  const auto d = decade_counts(bins, 10);
  BOOST_TEST(d.size() == 5u);
  BOOST_TEST(d.at(-1) == 2);
  BOOST_TEST(d.at(0) == 5);
  BOOST_TEST(d.at(2) == 5);
  BOOST_TEST(d.at(3) == 8);
  BOOST_TEST(d.at(4) == 3);
  // Three bins per decade: bin -4 lies in decade -2 ([0.01, 0.1)), bin -3 in decade -1.
  const auto e = decade_counts(Bins{{-4, 1}, {-3, 2}, {2, 4}, {3, 8}}, 3);
  BOOST_TEST(e.at(-2) == 1);
  BOOST_TEST(e.at(-1) == 2);
  BOOST_TEST(e.at(0) == 4);
  BOOST_TEST(e.at(1) == 8);
}

BOOST_AUTO_TEST_CASE(decades_holding_a_share_count_only_full_enough_ones) {
  // 1000 draws: 989 in decade 5, 10 in decade 3 (exactly 1 %), 1 in decade 7 (0.1 %).
  const std::map<std::int64_t, std::int64_t> d{{3, 10}, {5, 989}, {7, 1}};
  BOOST_TEST(decades_holding(d, 0.01) == 2);
  BOOST_TEST(decades_holding(d, 0.001) == 3);
  BOOST_TEST(decades_holding(d, 0.5) == 1);
  BOOST_TEST(decades_holding({}, 0.01) == 0);
}

BOOST_AUTO_TEST_CASE(spread_is_the_fullest_over_the_emptiest_decade_of_the_range) {
  const std::map<std::int64_t, std::int64_t> d{{2, 500}, {3, 40}, {4, 100}, {5, 10}, {6, 80}};
  const auto s = decade_spread(d, 3, 7);  // decades 3, 4, 5, 6; decade 2 is outside
  BOOST_TEST(s.fullest == 100);
  BOOST_TEST(s.emptiest == 10);
  BOOST_REQUIRE(s.ratio().has_value());
  BOOST_TEST(*s.ratio() == 10.0);
  // A decade of the range without draws: no finite ratio.
  const auto gap = decade_spread(d, 3, 8);
  BOOST_TEST(gap.emptiest == 0);
  BOOST_TEST(!gap.ratio().has_value());
  // A flat histogram has ratio 1.
  const auto flat = decade_spread({{0, 7}, {1, 7}}, 0, 2);
  BOOST_TEST(*flat.ratio() == 1.0);
}
