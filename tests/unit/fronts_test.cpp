#define BOOST_TEST_MODULE fronts
// Pareto fronts on hand-made points (ties, dominated points, one point, none), fronts and
// queries over a hand-made model table, and the bounds `narrow query` reads.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "narrow/errors.hpp"
#include "narrow/pareto.hpp"
#include "run/fronts.hpp"
#include "run/model_query.hpp"
#include "run/model_table.hpp"

using narrow::TradeOff;
using Indices = std::vector<std::size_t>;

namespace {

std::string message_of(const std::string& bound) {
  try {
    (void)narrow::parse_bound(bound);
  } catch (const narrow::InputError& e) {
    return e.what();
  }
  return "";
}

narrow::ModelRow row(const std::string& hash, const std::string& format, std::int64_t bytes,
                     std::int64_t macs, double val, double test) {
  narrow::ModelRow r;
  r.architecture_hash = hash;
  r.training_key = "t-" + hash;
  r.format = format;
  r.weight_bytes = bytes;
  r.metrics.macs = macs;
  r.val_accuracy = val;
  r.test_accuracy = test;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(dominated_points_leave_the_front) {
  // cost, accuracy: (4, 0.5) is dominated by (3, 0.6); (5, 0.6) by (3, 0.6) (same accuracy,
  // higher cost); (1, 0.2) and (2, 0.4) are cheap enough to stay.
  const std::vector<TradeOff> points{{4, 0.5}, {3, 0.6}, {1, 0.2}, {5, 0.6}, {2, 0.4}, {9, 0.9}};
  BOOST_TEST(narrow::pareto_indices(points) == (Indices{2, 4, 1, 5}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(ties_keep_the_first_point) {
  // Equal points: the first in input order stays, whatever the order.
  BOOST_TEST(narrow::pareto_indices({{2, 0.5}, {2, 0.5}, {1, 0.1}}) == (Indices{2, 0}),
             boost::test_tools::per_element());
  BOOST_TEST(narrow::pareto_indices({{1, 0.1}, {2, 0.5}, {2, 0.5}}) == (Indices{0, 1}),
             boost::test_tools::per_element());
  // Equal cost, different accuracy: the more accurate dominates; equal accuracy, different
  // cost: the cheaper one.
  BOOST_TEST(narrow::pareto_indices({{2, 0.4}, {2, 0.5}}) == (Indices{1}),
             boost::test_tools::per_element());
  BOOST_TEST(narrow::pareto_indices({{3, 0.5}, {2, 0.5}}) == (Indices{1}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(one_point_and_none) {
  BOOST_TEST(narrow::pareto_indices({{7, 0.3}}) == (Indices{0}), boost::test_tools::per_element());
  BOOST_TEST(narrow::pareto_indices({}).empty());
}

BOOST_AUTO_TEST_CASE(fronts_of_a_model_table_by_format_and_metric) {
  narrow::ModelTable table;
  table.rows = {row("b", "float32", 400, 10, 0.80, 0.79),  // 0
                row("a", "float32", 400, 10, 0.80, 0.78),  // 1: equal to 0 but for the hash
                row("c", "float32", 1000, 5, 0.90, 0.88),  // 2
                row("c", "int8", 250, 5, 0.89, 0.87),      // 3
                row("b", "int8", 100, 10, 0.70, 0.71)};    // 4
  const auto f32 = narrow::rows_of_format(table, "float32");
  BOOST_TEST(f32 == (Indices{0, 1, 2}), boost::test_tools::per_element());
  BOOST_TEST(narrow::rows_of_format(table, "any").size() == 5u);
  BOOST_CHECK_THROW(narrow::rows_of_format(table, "half"), narrow::InputError);
  // Weight bytes: of the equal a and b, a (the smaller hash) is kept.
  BOOST_TEST(
      narrow::model_front(table, f32, "weight_bytes", narrow::Split::validation) == (Indices{1, 2}),
      boost::test_tools::per_element());
  // MACs: c is cheaper and more accurate, alone on the front.
  BOOST_TEST(narrow::model_front(table, f32, "macs", narrow::Split::validation) == (Indices{2}),
             boost::test_tools::per_element());
  // Every format: int8 moves the front to fewer bytes.
  BOOST_TEST(narrow::model_front(table, narrow::rows_of_format(table, "any"), "weight_bytes",
                                 narrow::Split::validation) == (Indices{4, 3, 2}),
             boost::test_tools::per_element());
  // By test accuracy, b (0.79) beats a (0.78) at equal bytes.
  BOOST_TEST(
      narrow::model_front(table, f32, "weight_bytes", narrow::Split::test) == (Indices{0, 2}),
      boost::test_tools::per_element());
  // No latency anywhere: rows without it are left out, and a query on it is refused.
  BOOST_TEST(narrow::model_front(table, f32, "latency", narrow::Split::validation).empty());
  BOOST_CHECK_THROW(narrow::require_metric(table, f32, "latency"), narrow::InputError);
  BOOST_CHECK_THROW(narrow::require_metric(table, f32, "volume"), narrow::InputError);
}

BOOST_AUTO_TEST_CASE(query_picks_the_most_accurate_within_the_bounds) {
  narrow::ModelTable table;
  table.rows = {row("b", "float32", 400, 10, 0.80, 0.79), row("a", "float32", 400, 10, 0.80, 0.78),
                row("c", "float32", 1000, 5, 0.90, 0.88), row("d", "float32", 300, 50, 0.60, 0.9)};
  table.rows[3].val_accuracy.reset();  // evaluated on the test split only
  const auto all = narrow::rows_of_format(table, "float32");
  using narrow::Split;
  auto best = [&](const std::vector<narrow::MetricBound>& bounds, double floor, Split split) {
    return narrow::query_best(table, all, bounds, floor, split).best;
  };
  BOOST_TEST(*best({}, 0, Split::validation) == 2u);
  BOOST_TEST(*best({narrow::parse_bound("weight_bytes=999")}, 0, Split::validation) ==
             1u);  // a: tie
  BOOST_TEST(*best({narrow::parse_bound("weight_bytes=999")}, 0, Split::test) == 3u);
  BOOST_TEST(!best({narrow::parse_bound("weight_bytes=999")}, 0.85, Split::validation));
  BOOST_TEST(!best({narrow::parse_bound("macs=4")}, 0, Split::validation));
  const auto answer =
      narrow::query_best(table, all, {narrow::parse_bound("macs=10")}, 0, Split::validation);
  BOOST_TEST(answer.meeting == (Indices{0, 1, 2}), boost::test_tools::per_element());  // c: 5 MACs
  BOOST_TEST(answer.without_accuracy == 1u);
  BOOST_CHECK_THROW(
      narrow::query_best(table, all, {narrow::parse_bound("latency=2ms")}, 0, Split::validation),
      narrow::InputError);
}

BOOST_AUTO_TEST_CASE(bounds_read_metric_and_quantity) {
  auto b = narrow::parse_bound("weight_bytes=16KiB");
  BOOST_TEST(b.metric == "weight_bytes");
  BOOST_TEST(b.max == 16384.0);
  BOOST_TEST(narrow::parse_bound("macs=250k").max == 250000.0);
  BOOST_TEST(narrow::parse_bound("latency=2ms").max == 0.002);
  BOOST_TEST(narrow::parse_bound("params=1000").max == 1000.0);  // a plain number
  BOOST_TEST(message_of("weight_bytes").find("METRIC=VALUE") != std::string::npos);
  BOOST_TEST(message_of("=5").find("METRIC=VALUE") != std::string::npos);
  BOOST_TEST(message_of("weight_bytes=abc") != "");
  BOOST_TEST(message_of("latency=4KiB").find("'latency' is a time, but '4KiB' is a size") !=
                 std::string::npos,
             message_of("latency=4KiB"));
  BOOST_TEST(message_of("macs=2ms").find("is a count") != std::string::npos,
             message_of("macs=2ms"));
  BOOST_TEST(message_of("volume=3").find("unknown metric 'volume'") != std::string::npos);
  BOOST_TEST(message_of("weight_bytes=-3") != "");
}
