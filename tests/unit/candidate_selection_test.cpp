#define BOOST_TEST_MODULE candidate_selection
// The selection rules of the `train` strategy on hand-made candidates: which architectures a
// grid of budgets picks, ranked by the budget's own metric or by another one, one or several
// per budget.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "candidate_selection.hpp"

using narrow::ArchitectureRecord;
using narrow::strategies::select_candidates;

namespace {

ArchitectureRecord candidate(const std::string& hash, std::int64_t bytes, std::int64_t macs) {
  ArchitectureRecord r;
  r.hash = hash;
  r.metrics.set("weight_bytes", bytes);
  r.metrics.set("macs", macs);
  return r;
}

std::vector<std::string> hashes(const std::vector<ArchitectureRecord>& picked) {
  std::vector<std::string> out;
  for (const auto& r : picked) out.push_back(r.hash);
  std::sort(out.begin(), out.end());
  return out;
}

// Count 2 gives the budgets 10,000 and 80 bytes: the largest and the smallest candidate.
const std::vector<ArchitectureRecord> pool{
    candidate("a", 100, 50),     candidate("b", 90, 900),     candidate("c", 80, 10),
    candidate("d", 5000, 10),    candidate("e", 9000, 20),    candidate("f", 10000, 30),
    candidate("g", 2000, 90000),
};

}  // namespace

BOOST_AUTO_TEST_CASE(grid_takes_the_candidate_that_fills_each_budget) {
  // rank = metric: the largest weights within 10,000 (f), and within 80 (c).
  const auto picked = select_candidates(pool, "grid", 2, "weight_bytes", "largest",
                                        "weight_bytes");
  BOOST_TEST(hashes(picked) == (std::vector<std::string>{"c", "f"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(grid_ranked_by_macs_takes_what_computes_most_within_each_budget) {
  // Within 10,000 bytes the most MACs is g (2,000 bytes); within 80 only c.
  const auto picked = select_candidates(pool, "grid", 2, "weight_bytes", "largest", "macs");
  BOOST_TEST(hashes(picked) == (std::vector<std::string>{"c", "g"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(several_per_budget_take_the_next_best_and_never_twice) {
  // Two per budget by MACs: g and b within 10,000; then c within 80, and as nothing else is
  // within 80, the smallest free candidate above it, a (b is taken).
  const auto picked = select_candidates(pool, "grid", 2, "weight_bytes", "largest", "macs", 2);
  BOOST_TEST(hashes(picked) == (std::vector<std::string>{"a", "b", "c", "g"}),
             boost::test_tools::per_element());
  // Asking for more than the pool holds trains the whole pool, once each.
  const auto all = select_candidates(pool, "grid", 4, "weight_bytes", "largest", "macs", 3);
  BOOST_TEST(all.size() == pool.size());
}

BOOST_AUTO_TEST_CASE(best_takes_the_extremes_of_the_metric) {
  const auto largest = select_candidates(pool, "best", 2, "macs", "largest", "macs");
  BOOST_TEST(hashes(largest) == (std::vector<std::string>{"b", "g"}),
             boost::test_tools::per_element());
  const auto smallest = select_candidates(pool, "best", 2, "macs", "smallest", "macs");
  BOOST_TEST(hashes(smallest) == (std::vector<std::string>{"c", "d"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(given_budgets_replace_the_grid_and_never_reach_above_a_budget) {
  // Budgets 95 and 5,000 bytes, two each by MACs, served from the smallest up: within 95, b
  // (900 MACs) and c; within 5,000, g and then a (50 MACs beats d's 10). The count is unused.
  const auto picked = select_candidates(pool, "grid", 1, "weight_bytes", "largest", "macs", 2,
                                        {5000, 95});
  BOOST_TEST(hashes(picked) == (std::vector<std::string>{"a", "b", "c", "g"}),
             boost::test_tools::per_element());
  // A budget that holds fewer free candidates than asked trains fewer, nothing above it.
  const auto few = select_candidates(pool, "grid", 1, "weight_bytes", "largest", "macs", 3,
                                     {85});
  BOOST_TEST(hashes(few) == (std::vector<std::string>{"c"}), boost::test_tools::per_element());
  // Even when the pool is smaller than budgets x per_budget.
  const auto small = select_candidates({pool[0], pool[3]}, "grid", 1, "weight_bytes", "largest",
                                       "macs", 5, {200});
  BOOST_TEST(hashes(small) == (std::vector<std::string>{"a"}), boost::test_tools::per_element());
}
