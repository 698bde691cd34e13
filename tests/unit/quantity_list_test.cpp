#define BOOST_TEST_MODULE quantity_list
// narrow/units.hpp: what a metric measures by its name.
#include <boost/test/unit_test.hpp>

#include <ostream>

#include "narrow/units.hpp"

using narrow::Dimension;

// Boost.Test prints the values of a failed check.
namespace narrow {
std::ostream& operator<<(std::ostream& out, Dimension d) { return out << dimension_name(d); }
}  // namespace narrow

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
