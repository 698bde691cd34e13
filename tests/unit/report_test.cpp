#define BOOST_TEST_MODULE report_units
// The pieces of `narrow report` on their own: gnuplot drawing and its failures, table output,
// the log-Pearson coefficient, format families.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <string>

#include "narrow/errors.hpp"
#include "run/report/figures.hpp"
#include "run/report/gnuplot.hpp"
#include "run/report/table.hpp"
#include "support/files.hpp"
#include "support/png.hpp"
#include "support/text.hpp"

namespace fs = std::filesystem;
using namespace narrow::report;
using narrow::family_rank;
using narrow::format_family;

namespace {
Plot line_plot(const std::string& name) {
  Plot p;
  p.name = name;
  p.title = "it's a test";
  p.xlabel = "x (bytes, log scale)";
  p.ylabel = "y (%)";
  p.logx = true;
  p.width = 400;
  p.height = 300;
  Series s;
  s.title = "points";
  s.style = "linespoints pt 7";
  s.rows = {{10, 1}, {100, 2}, {1000, 3}};
  p.series.push_back(s);
  return p;
}
}  // namespace

BOOST_AUTO_TEST_CASE(gnuplot_draws_svg_and_png_of_the_size_asked) {
  BOOST_REQUIRE_MESSAGE(gnuplot_available(), "gnuplot is needed: install Debian's gnuplot-nox");
  narrow::test::TempDir dir("report_unit");
  draw_plot(line_plot("ok"), dir.dir);
  const auto png = narrow::test::png_header(narrow::test::read_text(dir.dir / "ok.png"));
  BOOST_TEST(png.width == 400u);
  BOOST_TEST(png.height == 300u);
  const std::string svg = narrow::test::read_text(dir.dir / "ok.svg");
  BOOST_TEST(svg.find("<svg") != std::string::npos);
  BOOST_TEST(svg.find("it's a test") != std::string::npos);  // the quote survived gnuplot's quoting
  BOOST_TEST(fs::exists(dir.dir / "ok.gp"));
  BOOST_TEST(fs::exists(dir.dir / "ok.dat"));
}

BOOST_AUTO_TEST_CASE(a_failing_gnuplot_names_the_plot_and_its_message) {
  narrow::test::TempDir dir("report_unit");
  Plot bad = line_plot("bad_style");
  bad.series[0].style = "nosuchstyle";
  try {
    draw_plot(bad, dir.dir);
    BOOST_FAIL("a bad plot style must fail");
  } catch (const narrow::Error& e) {
    const std::string what = e.what();
    BOOST_TEST_MESSAGE(what);
    BOOST_TEST(what.find("gnuplot failed on plot 'bad_style'") != std::string::npos, what);
    BOOST_TEST(what.find("line") != std::string::npos, what);  // gnuplot's "FILE" line N: ...
  }
  BOOST_TEST(!fs::exists(dir.dir / "bad_style.png"));
  Plot empty = line_plot("empty");
  empty.series[0].rows.clear();
  BOOST_CHECK_THROW(draw_plot(empty, dir.dir), narrow::Error);
}

BOOST_AUTO_TEST_CASE(gnuplot_strings_and_tables) {
  BOOST_TEST(gnuplot_quote("it's") == "'it''s'");
  Table t{"t", "a table", {"name", "n", "x"}, {}};
  t.add({std::string("a,b \"c\""), std::int64_t(3), real_cell(0.5)});
  t.add({std::string("<d>"), std::int64_t(-1), real_cell(std::nan(""))});
  BOOST_CHECK_THROW(t.add({std::string("short")}), narrow::Error);
  BOOST_TEST(t.csv() == "name,n,x\n\"a,b \"\"c\"\"\",3,0.5\n<d>,-1,\n");
  BOOST_TEST(t.json().dump() ==
             R"([{"n":3,"name":"a,b \"c\"","x":0.5},{"n":-1,"name":"<d>","x":null}])");
  BOOST_TEST(t.html().find("<td>&lt;d&gt;</td>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(pearson_of_log_values_and_format_families) {
  std::size_t pairs = 0;
  // log10 of 10, 100, 1000 against log10 of 2, 4, 8: both linear in the index, r = 1.
  BOOST_TEST(*log_pearson({10, 100, 1000}, {2, 4, 8}, pairs) == 1.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(pairs == 3u);
  BOOST_TEST(*log_pearson({10, 100, 1000}, {8, 4, 2}, pairs) == -1.0, boost::test_tools::tolerance(1e-12));
  // Worked by hand: x = 0, 1, 2, 3 and y = 0, 2, 1, 3 (log10 of 1, 100, 10, 1000): r = 0.8.
  BOOST_TEST(*log_pearson({1, 10, 100, 1000}, {1, 100, 10, 1000}, pairs) == 0.8,
             boost::test_tools::tolerance(1e-12));
  BOOST_TEST(!log_pearson({5, 5, 5, 5}, {1, 2, 3, 4}, pairs));       // no variation
  BOOST_TEST(!log_pearson({1, 2, 0, -1}, {1, 2, 3, 4}, pairs));      // 2 pairs above 0
  BOOST_TEST(pairs == 2u);
  BOOST_TEST(format_family(32) == "float32");
  BOOST_TEST(format_family(16) == "16-bit");
  BOOST_TEST(format_family(9) == "16-bit");
  BOOST_TEST(format_family(8) == "8-bit");
  BOOST_TEST(format_family(4) == "below 8 bits");
  BOOST_TEST(law_group("uniform", false) == "uniform law");
  BOOST_TEST(law_group("uniform", true) == "learned laws");
  BOOST_TEST(law_group("L1", false) == "hand-made laws");
}
