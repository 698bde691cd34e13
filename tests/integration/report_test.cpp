#define BOOST_TEST_MODULE report
// `narrow report` end to end: a store with trainings and precision evaluations (the smoke
// precision run) and a sampling-only store give the files report.json lists, well formed
// (SVG parses as XML with the size asked, PNG headers give that size, CSV and JSON agree with
// each other and with the store); index.html renders its plots in headless Chromium (and a
// copy with a broken image path is told apart); bad input is one line and exit code 2.
#include <boost/test/unit_test.hpp>

#include <boost/process.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/png.hpp"
#include "support/run.hpp"
#include "support/sqlite.hpp"
#include "support/text.hpp"

namespace fs = std::filesystem;
using narrow::test::read_text;
using narrow::test::run_narrow;
using narrow::test::source_dir;
using narrow::test::sql;
using narrow::test::work_dir;
using nlohmann::json;
using Args = std::vector<std::string>;

namespace {

// The smoke precision run (4 models, 14 formats + float32), made once for the cases below.
const fs::path& precision_run() {
  static const fs::path run = [] {
    const auto dir = work_dir("report_precision_run") / "run";
    const auto r = run_narrow({"run", (fs::path(source_dir()) / "experiments/smoke/precision.yaml").string(),
                               "--out", dir.string(), "--jobs", "1", "--torch-threads", "1"});
    if (r.exit_code != 0) throw std::runtime_error("smoke precision run failed: " + r.err);
    return dir;
  }();
  return run;
}

std::size_t count_lines(const std::string& text) {
  std::size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

std::int64_t sql_count(const std::string& db, const std::string& query) {
  return std::stoll(sql(db, query));
}

// Elements under `node`, at any depth (attributes and text not counted).
std::size_t elements(const boost::property_tree::ptree& node) {
  std::size_t n = 0;
  for (const auto& [name, child] : node)
    if (name != "<xmlattr>" && name != "<xmlcomment>") n += 1 + elements(child);
  return n;
}

// Every file report.json lists is there and well formed; returns report.json.
json check_report_files(const fs::path& dir) {
  const json listing = json::parse(read_text(dir / "report.json"));
  BOOST_REQUIRE(fs::exists(dir / "index.html"));
  for (const auto& p : listing["plots"]) {
    const std::string name = p["name"];
    BOOST_TEST_CONTEXT("plot " << name) {
      namespace pt = boost::property_tree;
      pt::ptree svg;
      std::istringstream in(read_text(dir / p["svg"].get<std::string>()));
      BOOST_REQUIRE_NO_THROW(pt::read_xml(in, svg));
      BOOST_TEST(svg.get<int>("svg.<xmlattr>.width") == p["width"].get<int>());
      BOOST_TEST(svg.get<int>("svg.<xmlattr>.height") == p["height"].get<int>());
      BOOST_TEST(elements(svg.get_child("svg")) > 50u);  // drawn elements, not an empty canvas
      const auto png = narrow::test::png_header(read_text(dir / p["png"].get<std::string>()));
      BOOST_TEST(png.width == p["width"].get<std::uint32_t>());
      BOOST_TEST(png.height == p["height"].get<std::uint32_t>());
      BOOST_TEST(p["points"].get<int>() > 0);
    }
  }
  for (const auto& t : listing["tables"]) {
    BOOST_TEST_CONTEXT("table " << t["name"]) {
      const std::string csv = read_text(dir / t["csv"].get<std::string>());
      const json rows = json::parse(read_text(dir / t["json"].get<std::string>()));
      BOOST_TEST(rows.is_array());
      BOOST_TEST(rows.size() == t["rows"].get<std::size_t>());
      BOOST_TEST(count_lines(csv) == rows.size() + 1);
      for (const auto& row : rows) BOOST_TEST(row.size() == t["columns"].size());
    }
  }
  return listing;
}

std::set<std::string> names(const json& list, const char* key) {
  std::set<std::string> out;
  for (const auto& x : list) out.insert(x[key].get<std::string>());
  return out;
}

// Renders `page` in headless Chromium and returns the screenshot.
narrow::test::PngImage screenshot(const fs::path& page, const fs::path& png, int width, int height) {
  namespace bp = boost::process;
  const auto chromium = bp::search_path("chromium");
  BOOST_REQUIRE_MESSAGE(!chromium.empty(),
                        "chromium is not installed: the report test renders index.html in it "
                        "(Debian's chromium; scripts/setup.sh installs it)");
  const fs::path profile = png.parent_path() / (png.stem().string() + "-profile");
  bp::ipstream out, err;
  bp::child c(chromium,
              bp::args({"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--user-data-dir=" + profile.string(), "--screenshot=" + png.string(),
                        "--window-size=" + std::to_string(width) + "," + std::to_string(height),
                        "file://" + fs::absolute(page).string()}),
              bp::std_out > bp::null, bp::std_err > bp::null, bp::std_in < bp::null);
  if (!c.wait_for(std::chrono::seconds(180))) {
    c.terminate();
    BOOST_FAIL("chromium did not finish the screenshot in 180 s");
  }
  BOOST_REQUIRE_MESSAGE(fs::exists(png), "chromium wrote no screenshot (exit " << c.exit_code() << ")");
  return narrow::test::decode_png(read_text(png));
}

// Pixels of a clear colour (not white, grey or black: the plots' points, lines and fills) in
// rows [from, to) of the image (all rows by default).
std::size_t coloured_pixels(const narrow::test::PngImage& img, std::size_t from = 0,
                            std::size_t to = SIZE_MAX) {
  std::size_t n = 0;
  const std::size_t row = std::size_t(img.width) * 3;
  for (std::size_t i = from * row; i + 2 < img.rgb.size() && i < to * row; i += 3) {
    const int r = img.rgb[i], g = img.rgb[i + 1], b = img.rgb[i + 2];
    n += std::max({r, g, b}) - std::min({r, g, b}) >= 60;
  }
  return n;
}

// Pixels in rows [from, to) of the colours Figure 5 draws its format families in (the report's
// palette: #1f77b4, #2ca02c, #ff7f0e, #d62728), each channel within 30; a link's blue text,
// greys and black are none of them.
std::size_t family_pixels(const narrow::test::PngImage& img, std::size_t from, std::size_t to) {
  static const int palette[4][3] = {{0x1f, 0x77, 0xb4}, {0x2c, 0xa0, 0x2c}, {0xff, 0x7f, 0x0e}, {0xd6, 0x27, 0x28}};
  std::size_t n = 0;
  const std::size_t row = std::size_t(img.width) * 3;
  for (std::size_t i = from * row; i + 2 < img.rgb.size() && i < to * row; i += 3)
    for (const auto& c : palette)
      if (std::abs(img.rgb[i] - c[0]) <= 30 && std::abs(img.rgb[i + 1] - c[1]) <= 30 &&
          std::abs(img.rgb[i + 2] - c[2]) <= 30) {
        ++n;
        break;
      }
  return n;
}

// The first row and one past the last where two images of the same size differ ({0, 0} when
// they are the same).
std::pair<std::size_t, std::size_t> differing_rows(const narrow::test::PngImage& a,
                                                   const narrow::test::PngImage& b) {
  const std::size_t row = std::size_t(a.width) * 3;
  std::size_t first = SIZE_MAX, last = 0;
  for (std::size_t y = 0; y < a.height; ++y)
    if (!std::equal(a.rgb.begin() + y * row, a.rgb.begin() + (y + 1) * row, b.rgb.begin() + y * row)) {
      first = std::min(first, y);
      last = y + 1;
    }
  return first == SIZE_MAX ? std::pair<std::size_t, std::size_t>{0, 0} : std::pair{first, last};
}

std::size_t non_white_pixels(const narrow::test::PngImage& img) {
  std::size_t n = 0;
  for (std::size_t i = 0; i + 2 < img.rgb.size(); i += 3)
    n += img.rgb[i] < 240 || img.rgb[i + 1] < 240 || img.rgb[i + 2] < 240;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(report_of_a_trained_and_evaluated_run) {
  const fs::path run = precision_run();
  const std::string db = (run / "results.db").string();
  const fs::path dir = work_dir("report_precision") / "report";
  const auto r = run_narrow({"report", run.string(), "--out", dir.string(), "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json listing = json::parse(r.out);
  BOOST_TEST(listing == json::parse(read_text(dir / "report.json")));
  check_report_files(dir);

  BOOST_TEST((names(listing["plots"], "name") ==
              std::set<std::string>{"fig1_4_params_histograms", "fig2_metric_correlation",
                                    "fig5_accuracy_memory"}));
  // The smoke run measures no latency: Figure 7 is left out, with the reason on the page; it is
  // one run without shrunk references, so there are no variants' fronts to compare.
  BOOST_TEST((names(listing["omitted"], "plot") ==
              std::set<std::string>{"fig7_accuracy_latency", "ablation_fronts"}));
  const std::string page = read_text(dir / "index.html");
  BOOST_TEST(page.find("Not drawn: no trained model has a measured or predicted latency") !=
             std::string::npos);
  BOOST_TEST(r.err.find("report: fig5_accuracy_memory (") != std::string::npos);
  // Offline: nothing from the net, every image a file of the folder.
  BOOST_TEST(page.find("http://") == std::string::npos);
  BOOST_TEST(page.find("https://") == std::string::npos);
  BOOST_TEST(page.find("<script") == std::string::npos);
  BOOST_TEST(page.find("src=\"fig5_accuracy_memory.png\"") != std::string::npos);

  // The tables agree with the store.
  const json models = json::parse(read_text(dir / "models.json"));
  BOOST_TEST(std::int64_t(models.size()) == sql_count(db, "SELECT count(*) FROM trainings;"));
  const json fig5 = json::parse(read_text(dir / "fig5_accuracy_memory.json"));
  BOOST_TEST(std::int64_t(fig5.size()) ==
             sql_count(db, "SELECT count(*) FROM precisions WHERE split = 'test';"));
  std::set<std::string> families, fronts;
  for (const auto& p : fig5) {
    families.insert(p["family"].get<std::string>());
    if (p["front"] == 1) fronts.insert(p["family"].get<std::string>());
    BOOST_TEST(p["test_accuracy_pct"].get<double>() >= 0.0);
    BOOST_TEST(p["test_accuracy_pct"].get<double>() <= 100.0);
  }
  BOOST_TEST((families == std::set<std::string>{"float32", "16-bit", "8-bit", "below 8 bits"}));
  BOOST_TEST(fronts == families);  // every family has its front
  // One weight-bytes value checked against the store: float32 of the first model.
  const json first = models.at(0);
  for (const auto& p : fig5)
    if (p["training"] == first["training"] && p["format"] == "float32")
      BOOST_TEST(std::to_string(p["weight_bytes"].get<std::int64_t>()) + "\n" ==
                 sql(db, "SELECT weight_bytes FROM precisions WHERE split = 'test' AND format = "
                         "'float32' AND training = '" + first["training"].get<std::string>() + "';"));
  const json corr = json::parse(read_text(dir / "fig2_metric_correlation.json"));
  BOOST_TEST(corr.size() == 25u);  // five metrics, no latency
  for (const auto& c : corr)
    if (c["metric_a"] == c["metric_b"] && !c["pearson_log10"].is_null())
      BOOST_TEST(c["pearson_log10"].get<double>() == 1.0, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(index_html_shows_the_plots_in_a_browser) {
  const fs::path run = precision_run();
  const fs::path dir = work_dir("report_browser") / "report";
  const auto r = run_narrow({"report", (run / "results.db").string(), "--out", dir.string()});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  // A copy of the page with Figure 5's image path broken: the browser shows its broken-image
  // icon there instead, in a box of the same size, so the rest of the page stays in place.
  std::string page = read_text(dir / "index.html");
  const std::string src = "src=\"fig5_accuracy_memory.png\"";
  const auto at = page.find(src);
  BOOST_REQUIRE(at != std::string::npos);
  page.replace(at, src.size(), "src=\"no-such-fig5.png\"");
  { std::ofstream(dir / "broken.html") << page; }

  const int width = 1100, height = 4200;
  const auto good = screenshot(dir / "index.html", dir.parent_path() / "index.png", width, height);
  const auto broken = screenshot(dir / "broken.html", dir.parent_path() / "broken.png", width, height);
  BOOST_TEST(good.width == std::uint32_t(width));
  BOOST_TEST(good.height == std::uint32_t(height));
  BOOST_REQUIRE(broken.width == good.width && broken.height == good.height);
  const std::size_t ink = non_white_pixels(good), colour = coloured_pixels(good);
  BOOST_TEST(ink > 100000u);    // not blank: text, tables and three plots
  BOOST_TEST(colour > 20000u);  // the plots' colours are on the page
  // The two pages differ only where Figure 5's image is (600 px high): there the intact page
  // shows the plot's coloured points and fronts, the broken one an icon and the alt text.
  const auto [from, to] = differing_rows(good, broken);
  const std::size_t plot = family_pixels(good, from, to), icon = family_pixels(broken, from, to);
  BOOST_TEST_MESSAGE("non-white " << ink << ", coloured " << colour << "; rows " << from << ".."
                                  << to << " differ: coloured " << plot << " with Figure 5, "
                                  << icon << " with its path broken");
  BOOST_TEST(to - from >= 300u);
  BOOST_TEST(plot >= 1000u);
  BOOST_TEST(icon * 20 <= plot);
}

// A run whose device measured latency (a calibrated host device, a latency bound), and a
// reference model marked by a record of kind train.reference: Figure 7 is drawn, Figure 2
// correlates latency too, and the reference's points carry its name.
BOOST_AUTO_TEST_CASE(latency_and_reference_models) {
  const fs::path work = work_dir("report_latency");
  const std::string experiment = (fs::path(source_dir()) / "experiments/smoke/precision.yaml").string();
  const auto cal = run_narrow({"calibrate", "--experiment", experiment, "--count", "20", "--min-macs",
                               "100", "--max-macs", "1M", "--out", (work / "host.json").string()});
  BOOST_REQUIRE_MESSAGE(cal.exit_code == 0, cal.err);
  const auto run = run_narrow(
      {"run", experiment, "--out", (work / "run").string(), "--jobs", "1", "--torch-threads", "1",
       "--set", "device={name: calibrated, parameters: {calibration: " + (work / "host.json").string() + "}}",
       "--set", "constraints.latency=1s"});
  BOOST_REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  const std::string db = (work / "run" / "results.db").string();
  const std::string key = sql(db, "SELECT key FROM trainings ORDER BY key LIMIT 1;").substr(0, 32);
  sql(db, "INSERT INTO records(kind, stage, unit, data) VALUES ('train.reference', 'train', '" + key +
              "', json_object('space', 'seq', 'reference', 'smoke_ref', 'budget', 65536, 'metric', "
              "'weight_bytes', 'hash', "
              "(SELECT hash FROM trainings WHERE key = '" + key + "'), 'training', '" + key + "'));");

  const fs::path dir = work / "report";
  const auto r = run_narrow({"report", (work / "run").string(), "--out", dir.string(), "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json listing = check_report_files(dir);
  BOOST_TEST(listing["omitted"].empty());
  const json fig7 = json::parse(read_text(dir / "fig7_accuracy_latency.json"));
  BOOST_TEST(std::int64_t(fig7.size()) ==
             sql_count(db, "SELECT count(*) FROM trainings t JOIN latencies l USING (hash) WHERE "
                           "t.status = 'ok';"));
  BOOST_TEST(fig7.size() > 0u);
  for (const auto& m : fig7) {
    BOOST_TEST(m["latency_ms"].get<double>() > 0.0);
    BOOST_TEST(m["latency_source"] == "measured");  // the train stage measured every one
  }
  const json corr = json::parse(read_text(dir / "fig2_metric_correlation.json"));
  BOOST_TEST(corr.size() == 36u);  // latency_ms joins the five metrics
  std::size_t marked = 0;
  for (const auto& p : json::parse(read_text(dir / "fig5_accuracy_memory.json")))
    if (p["reference"] == "smoke_ref") {
      ++marked;
      BOOST_TEST(p["training"] == key);
    }
  BOOST_TEST(std::int64_t(marked) ==
             sql_count(db, "SELECT count(*) FROM precisions WHERE split = 'test' AND training = '" +
                               key + "';"));
  BOOST_TEST(read_text(dir / "fig5_accuracy_memory.gp").find("title 'reference models'") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(report_of_a_sampling_only_store) {
  const fs::path work = work_dir("report_sampling");
  const fs::path experiment = work / "sampling.yaml";
  std::ofstream(experiment) << R"(name: report_sampling
seed: 5
spaces:
  - name: seq
    plugin: sequential
    parameters: {max_conv_layers: 3, max_fc_layers: 1}
    laws:
      small: {conv_layers: [1, 2], conv1.filters: [2, 16], conv2.filters: [2, 16]}
      wide: {conv_layers: [2, 3], conv1.filters: [16, 64], conv2.filters: [16, 64]}
  - name: all
    plugin: sequential
    parameters: {max_conv_layers: 3, max_fc_layers: 1}
stages:
  - name: sample
    strategy: random
    parameters: {per_law: 60, batch: 30}
  - name: stats
    strategy: statistics
    parameters: {spaces: seq, per_law: 200, bins_per_decade: 5, correlate: ""}
)";
  const auto run = run_narrow({"run", experiment.string(), "--out", (work / "run").string()});
  BOOST_REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  // Into a folder that holds an older report with a Figure 5: that plot must not stay behind.
  const fs::path dir = work / "report";
  fs::create_directories(dir);
  std::ofstream(dir / "fig5_accuracy_memory.png") << "old";
  const auto r = run_narrow({"report", (work / "run").string(), "--out", dir.string(), "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json listing = check_report_files(dir);
  BOOST_TEST(!fs::exists(dir / "fig5_accuracy_memory.png"));
  BOOST_TEST((names(listing["plots"], "name") ==
              std::set<std::string>{"fig1_4_params_histograms", "fig2_metric_correlation"}));
  BOOST_TEST((names(listing["omitted"], "plot") ==
              std::set<std::string>{"fig5_accuracy_memory", "fig7_accuracy_latency",
                                    "ablation_fronts"}));
  BOOST_TEST(json::parse(read_text(dir / "models.json")).empty());
  // The space without laws drew from its uniform law; the other's laws are hand-made. The
  // statistics stage keeps no draws: its stored histograms (5 bins per decade) are read.
  std::map<std::string, std::int64_t> per_group;
  for (const auto& b : json::parse(read_text(dir / "fig1_4_params_histograms.json"))) {
    per_group[b["stage"].get<std::string>() + "/" + b["source"].get<std::string>() + "/" +
              b["group"].get<std::string>() + "/" + b["law"].get<std::string>()] +=
        b["count"].get<std::int64_t>();
    if (b["source"] == "statistics")
      BOOST_TEST(b["params_to"].get<double>() / b["params_from"].get<double>() ==
                 std::pow(10.0, 0.2), boost::test_tools::tolerance(1e-9));
  }
  BOOST_TEST(per_group.size() == 5u);
  BOOST_TEST(per_group["sample/draws/uniform law/uniform"] == 60);
  BOOST_TEST(per_group["sample/draws/hand-made laws/small"] == 60);
  BOOST_TEST(per_group["sample/draws/hand-made laws/wide"] == 60);
  BOOST_TEST(per_group["stats/statistics/hand-made laws/small"] == 200);
  BOOST_TEST(per_group["stats/statistics/hand-made laws/wide"] == 200);
}

BOOST_AUTO_TEST_CASE(bad_input_is_one_line_and_exit_code_2) {
  const fs::path work = work_dir("report_bad_input");
  const fs::path file = work / "not-a-folder.txt";
  std::ofstream(file) << "text\n";
  fs::create_directories(work / "empty");
  const std::string db = (precision_run() / "results.db").string();
  const std::vector<std::pair<Args, std::string>> cases{
      {{"report"}, "needs a RUN"},
      {{"report", db}, "needs --out"},
      {{"report", (work / "missing").string(), "--out", (work / "r1").string()}, "does not exist"},
      {{"report", (work / "empty").string(), "--out", (work / "r2").string()}, "holds no results store"},
      {{"report", file.string(), "--out", (work / "r3").string()}, "not a narrow results store"},
      {{"report", db, "--out", file.string()}, "is a file"},
      {{"report", db, "--out", (file / "sub").string()}, "cannot create the report folder"},
      {{"report", db, "--out", (work / "r4").string(), "--colour"}, "colour"},
  };
  for (const auto& [args, expected] : cases) {
    BOOST_TEST_CONTEXT(args.back()) {
      const auto r = run_narrow(args);
      BOOST_TEST(r.exit_code == 2);
      BOOST_TEST(count_lines(r.err) == 1u, r.err);
      BOOST_TEST(r.err.find(expected) != std::string::npos, r.err);
      BOOST_TEST(r.out.empty());
    }
  }
  // Without gnuplot on PATH: exit 1 and the advice to install it.
  const auto r = run_narrow({"report", db, "--out", (work / "r5").string()}, {"PATH=/nonexistent"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("gnuplot-nox") != std::string::npos, r.err);
}
