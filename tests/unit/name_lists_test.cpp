#define BOOST_TEST_MODULE name_lists
// Comma-separated names of strategy parameters (narrow/name_lists.hpp), and the check that
// names spaces of the experiment.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "narrow/errors.hpp"
#include "narrow/name_lists.hpp"
#include "narrow/strategy.hpp"

using namespace narrow;
using Names = std::vector<std::string>;

BOOST_AUTO_TEST_CASE(items_are_trimmed_and_empty_ones_skipped) {
  BOOST_TEST(comma_list("a, b,,c ") == (Names{"a", "b", "c"}));
  BOOST_TEST(comma_list("params,macs") == (Names{"params", "macs"}));
  BOOST_TEST(comma_list("  one  ") == (Names{"one"}));
  BOOST_TEST(comma_list("").empty());
  BOOST_TEST(comma_list(" , ,").empty());
  BOOST_TEST(comma_list("a b, c") == (Names{"a b", "c"}));
  // A YAML list parameter arrives in brackets.
  BOOST_TEST(comma_list("[fig1, lenet5]") == (Names{"fig1", "lenet5"}));
  BOOST_TEST(comma_list(" [4KiB] ") == (Names{"4KiB"}));
  BOOST_TEST(comma_list("[]").empty());
}

BOOST_AUTO_TEST_CASE(a_name_that_is_not_a_space_is_a_parameter_error) {
  StagePlan plan;
  plan.stage = "s";
  plan.spaces = {"seq", "res"};
  BOOST_CHECK_NO_THROW(require_spaces(plan, "spaces", {"res", "seq"}));
  BOOST_CHECK_NO_THROW(require_spaces(plan, "spaces", {}));
  try {
    require_spaces(plan, "spaces", {"seq", "mob", "x"});
    BOOST_FAIL("'mob' was taken for a space");
  } catch (const ParameterError& e) {
    BOOST_TEST(e.parameter() == "spaces");
    BOOST_TEST(e.message() ==
               "parameter 'spaces': 'mob' is not a space of the experiment (spaces: seq, res)");
  }
}
