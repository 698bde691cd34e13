#define BOOST_TEST_MODULE correlation_sums
// The Pearson correlation of the statistics strategy (docs/paper-figures.md, Figure 2 left)
// against values known independently: a small data set worked by hand, Anscombe's first data
// set (r = 0.816 as published), a two-pass textbook computation on log10 data, exact linear
// relations, and the cases without a correlation (constant input, fewer than two points).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstddef>
#include <vector>

#include "../../strategies/statistics/correlation_sums.hpp"

using narrow::strategies::CorrelationSums;

namespace {

CorrelationSums sums_of(const std::vector<std::vector<double>>& rows) {
  CorrelationSums s;
  s.resize(rows.empty() ? 2 : rows.front().size());
  for (const auto& r : rows) s.add(r);
  return s;
}

// Two columns as rows of (x, y).
std::vector<std::vector<double>> pairs(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<std::vector<double>> rows;
  for (std::size_t i = 0; i < x.size(); ++i) rows.push_back({x[i], y[i]});
  return rows;
}

// The textbook two-pass formula: means first, then centred sums.
double two_pass(const std::vector<double>& x, const std::vector<double>& y) {
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= double(x.size());
  my /= double(y.size());
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

}  // namespace

BOOST_AUTO_TEST_CASE(worked_by_hand) {
  // x = 1..5, y = 2 4 5 4 5: means 3 and 4, deviations (-2 -1 0 1 2) and (-2 0 1 0 1),
  // sum of products 6, sums of squares 10 and 6: r = 6 / sqrt(60) = sqrt(0.6).
  const auto s = sums_of(pairs({1, 2, 3, 4, 5}, {2, 4, 5, 4, 5}));
  BOOST_TEST(s.n == 5);
  BOOST_TEST(s.pearson(0, 1, 0) == std::sqrt(0.6), boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(anscombe_first_data_set) {
  // F. J. Anscombe, "Graphs in Statistical Analysis" (1973), data set I: r = 0.816.
  const std::vector<double> x = {10, 8, 13, 9, 11, 14, 6, 4, 12, 7, 5};
  const std::vector<double> y = {8.04, 6.95, 7.58, 8.81, 8.33, 9.96, 7.24, 4.26, 10.84, 4.82, 5.68};
  const double r = sums_of(pairs(x, y)).pearson(0, 1, 0);
  BOOST_TEST(std::round(r * 1000) == 816.0);
  BOOST_TEST(r == two_pass(x, y), boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(log10_metrics_match_the_two_pass_formula) {
  // log10 of parameter counts and MACs of the size the spaces give, as the strategy adds them.
  const std::vector<double> params = {197, 2706, 61706, 1540935, 185, 72586, 20936, 1204037};
  const std::vector<double> macs = {9.1e3, 4.4e5, 4.2e5, 2.9e8, 2.0e3, 3.1e6, 8.8e6, 1.1e8};
  std::vector<double> lx, ly;
  for (std::size_t i = 0; i < params.size(); ++i) {
    lx.push_back(std::log10(params[i]));
    ly.push_back(std::log10(macs[i]));
  }
  const double r = sums_of(pairs(lx, ly)).pearson(0, 1, 0);
  BOOST_TEST(r == two_pass(lx, ly), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(r > 0.9);
  BOOST_TEST(r < 1.0);
}

BOOST_AUTO_TEST_CASE(exact_linear_relations_give_plus_and_minus_one) {
  std::vector<std::vector<double>> rows;
  for (int i = 0; i < 50; ++i) {
    const double x = 2.0 + 0.1 * i;
    rows.push_back({x, 3 * x - 7, 1 - 2 * x});
  }
  const auto s = sums_of(rows);
  // Pairs in the order of add(): (0,1), (0,2), (1,2).
  BOOST_TEST(s.pearson(0, 1, 0) == 1.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(s.pearson(0, 2, 1) == -1.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(s.pearson(1, 2, 2) == -1.0, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(no_correlation_without_variation) {
  // A constant column (log10 of one parameter count repeated) has no correlation with
  // anything, however its sums round; nor has a single point or none.
  std::vector<std::vector<double>> rows;
  for (int i = 0; i < 1000; ++i) rows.push_back({std::log10(61706.0), std::log10(1.0 + i)});
  BOOST_TEST(std::isnan(sums_of(rows).pearson(0, 1, 0)));
  for (int i = 0; i < 7; ++i) rows[i] = {std::log10(3.0), std::log10(3.0)};
  rows.resize(7);
  BOOST_TEST(std::isnan(sums_of(rows).pearson(0, 1, 0)));
  BOOST_TEST(std::isnan(sums_of({{1.5, 2.5}}).pearson(0, 1, 0)));
  BOOST_TEST(std::isnan(sums_of({}).pearson(0, 1, 0)));
}

BOOST_AUTO_TEST_CASE(merged_and_stored_sums_give_the_same_correlation) {
  const std::vector<double> x = {10, 8, 13, 9, 11, 14, 6, 4, 12, 7, 5};
  const std::vector<double> y = {8.04, 6.95, 7.58, 8.81, 8.33, 9.96, 7.24, 4.26, 10.84, 4.82, 5.68};
  const auto rows = pairs(x, y);
  auto first = sums_of({rows.begin(), rows.begin() + 4});
  const auto second = sums_of({rows.begin() + 4, rows.end()});
  first.merge(CorrelationSums::from_json(second.to_json()));
  BOOST_TEST(first.n == 11);
  BOOST_TEST(first.pearson(0, 1, 0) == two_pass(x, y), boost::test_tools::tolerance(1e-12));
}
