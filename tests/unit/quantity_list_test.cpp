#define BOOST_TEST_MODULE quantity_list
// narrow/units.hpp: what a metric measures by its name, and comma lists of quantities of one
// dimension (the budgets of `select: references` and of `narrow report --budgets`).
#include <boost/test/unit_test.hpp>

#include <ostream>

#include <string>
#include <vector>

#include "narrow/units.hpp"

using narrow::Dimension;

// Boost.Test prints the values of a failed check.
namespace narrow {
std::ostream& operator<<(std::ostream& out, Dimension d) { return out << dimension_name(d); }
}  // namespace narrow
using narrow::ListedQuantity;

namespace {

struct Parsed {
  bool ok = false;
  std::vector<ListedQuantity> items;
  std::string error;
};

Parsed parse(const std::string& text, Dimension want) {
  Parsed p;
  p.ok = narrow::parse_quantity_list(text, want, p.items, p.error);
  return p;
}

std::vector<double> values(const Parsed& p) {
  std::vector<double> v;
  for (const auto& q : p.items) v.push_back(q.value);
  return v;
}

std::vector<std::string> texts(const Parsed& p) {
  std::vector<std::string> v;
  for (const auto& q : p.items) v.push_back(q.text);
  return v;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_metric_is_a_size_a_time_or_a_count_by_its_name) {
  BOOST_TEST(narrow::metric_dimension("weight_bytes") == Dimension::bytes);
  BOOST_TEST(narrow::metric_dimension("activation_peak_bytes") == Dimension::bytes);
  BOOST_TEST(narrow::metric_dimension("memory_eq6_bytes") == Dimension::bytes);
  BOOST_TEST(narrow::metric_dimension("latency") == Dimension::seconds);
  BOOST_TEST(narrow::metric_dimension("params") == Dimension::count);
  BOOST_TEST(narrow::metric_dimension("macs") == Dimension::count);
  // The suffix alone is not a name, and "bytes" must be the suffix.
  BOOST_TEST(narrow::metric_dimension("_bytes") == Dimension::count);
  BOOST_TEST(narrow::metric_dimension("bytes_total") == Dimension::count);
  BOOST_TEST(narrow::metric_dimension("latency_ms") == Dimension::count);
}

BOOST_AUTO_TEST_CASE(good_lists_keep_their_order_and_their_text) {
  const auto sizes = parse("4KiB, 16KiB,2MB", Dimension::bytes);
  BOOST_TEST_REQUIRE(sizes.ok, sizes.error);
  BOOST_TEST(values(sizes) == (std::vector<double>{4096, 16384, 2e6}),
             boost::test_tools::per_element());
  BOOST_TEST(texts(sizes) == (std::vector<std::string>{"4KiB", "16KiB", "2MB"}),
             boost::test_tools::per_element());

  // A YAML list arrives in brackets; plain numbers are in the dimension's base unit.
  const auto yaml = parse("[1000, 16KiB]", Dimension::bytes);
  BOOST_TEST_REQUIRE(yaml.ok, yaml.error);
  BOOST_TEST(values(yaml) == (std::vector<double>{1000, 16384}), boost::test_tools::per_element());

  const auto counts = parse("250k, 1.5M, 7", Dimension::count);
  BOOST_TEST_REQUIRE(counts.ok, counts.error);
  BOOST_TEST(values(counts) == (std::vector<double>{250e3, 1.5e6, 7}),
             boost::test_tools::per_element());

  const auto times = parse("10ms,250us", Dimension::seconds);
  BOOST_TEST_REQUIRE(times.ok, times.error);
  BOOST_TEST(values(times) == (std::vector<double>{10e-3, 250e-6}),
             boost::test_tools::tolerance(1e-15) << boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_quantity_of_another_dimension_is_refused_by_name) {
  const auto p = parse("4KiB,2ms", Dimension::bytes);
  BOOST_TEST(!p.ok);
  BOOST_TEST(p.error == "'2ms' is a time, not a size (write a list like 4KiB,16KiB)");
  const auto c = parse("4KiB", Dimension::count);
  BOOST_TEST(!c.ok);
  BOOST_TEST(c.error == "'4KiB' is a size, not a count (write a list like 1k,5k)");
  const auto t = parse("1k", Dimension::seconds);
  BOOST_TEST(!t.ok);
  BOOST_TEST(t.error == "'1k' is a count, not a time (write a list like 10ms,50ms)");
}

BOOST_AUTO_TEST_CASE(zero_is_refused) {
  for (const std::string text : {"0", "4KiB, 0B", "0KiB"}) {
    const auto p = parse(text, Dimension::bytes);
    BOOST_TEST(!p.ok, text);
    BOOST_TEST(has(p.error, "must be more than 0 (write a list like 4KiB,16KiB)"), p.error);
  }
  BOOST_TEST(parse("4KiB, 0B", Dimension::bytes).error ==
             "'0B' must be more than 0 (write a list like 4KiB,16KiB)");
}

BOOST_AUTO_TEST_CASE(a_budget_listed_twice_is_refused_however_it_is_written) {
  const auto same = parse("4KiB, 16KiB, 4KiB", Dimension::bytes);
  BOOST_TEST(!same.ok);
  BOOST_TEST(same.error == "'4KiB' is listed twice");
  const auto equal = parse("4KiB, 4096", Dimension::bytes);
  BOOST_TEST(!equal.ok);
  BOOST_TEST(equal.error == "'4096' is listed twice (as '4KiB' before)");
}

BOOST_AUTO_TEST_CASE(malformed_text_names_the_item_and_what_is_allowed) {
  const auto unit = parse("4KiB, 16KiX", Dimension::bytes);
  BOOST_TEST(!unit.ok);
  BOOST_TEST(has(unit.error, "unknown unit 'KiX' in '16KiX'"), unit.error);
  BOOST_TEST(has(unit.error, "(write a list like 4KiB,16KiB)"), unit.error);
  const auto word = parse("small", Dimension::count);
  BOOST_TEST(!word.ok);
  BOOST_TEST(word.error == "'small' does not start with a number (write a list like 1k,5k)");
  const auto negative = parse("-4KiB", Dimension::bytes);
  BOOST_TEST(!negative.ok);
  BOOST_TEST(has(negative.error, "'-4KiB'"), negative.error);
}

BOOST_AUTO_TEST_CASE(an_empty_list_is_refused) {
  for (const std::string text : {"", " ", "[]", ", ,"}) {
    const auto p = parse(text, Dimension::bytes);
    BOOST_TEST(!p.ok, "'" << text << "'");
    BOOST_TEST(p.error == "needs at least one value (write a list like 4KiB,16KiB)");
  }
}

BOOST_AUTO_TEST_CASE(a_failed_parse_leaves_the_output_as_it_was) {
  std::vector<ListedQuantity> out{{"kept", 1}};
  std::string error;
  BOOST_TEST(!narrow::parse_quantity_list("4KiB, 2ms", Dimension::bytes, out, error));
  BOOST_TEST_REQUIRE(out.size() == 1u);
  BOOST_TEST(out[0].text == "kept");
  BOOST_TEST(narrow::parse_quantity_list("4KiB", Dimension::bytes, out, error), error);
  BOOST_TEST_REQUIRE(out.size() == 1u);
  BOOST_TEST(out[0].value == 4096);
}
