#define BOOST_TEST_MODULE statistics
// The `statistics` strategy: histogram totals, threshold counts, correlations, the same
// tables whatever the thread count, and a resumed run that redoes nothing.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/run.hpp"
#include "support/text.hpp"
#include "support/sqlite.hpp"

using narrow::test::read_text;

namespace fs = std::filesystem;
using narrow::test::run_narrow;
using narrow::test::sql;
using nlohmann::json;

namespace {
const char* experiment = R"(name: stats_check
seed: 4
spaces:
  - name: a
    plugin: sequential
    parameters: {max_conv_layers: 3, max_fc_layers: 1}
    laws:
      small: {conv_layers: [1, 2], conv1.filters: [1, 16], conv2.filters: [1, 16]}
      big: {conv_layers: [2, 3], conv1.filters: [32, 128], conv2.filters: [32, 128]}
  - name: b
    plugin: sequential
stages:
  - name: s
    strategy: statistics
    parameters: {spaces: a, per_law: 9000, below: [0, 5000, 1000000000000], correlate: "params,weight_bytes,macs"}
)";
}  // namespace

BOOST_AUTO_TEST_CASE(statistics_of_each_law) {
  const fs::path dir = fs::path(narrow::test::build_dir()) / "tests" / "statistics";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "e.yaml") << experiment;
  auto one = run_narrow({"run", (dir / "e.yaml").string(), "--out", (dir / "one").string(),
                         "--threads", "1", "--json"});
  auto two = run_narrow({"run", (dir / "e.yaml").string(), "--out", (dir / "two").string(),
                         "--threads", "2", "--json"});
  BOOST_REQUIRE_MESSAGE(one.exit_code == 0, one.err);
  BOOST_REQUIRE_MESSAGE(two.exit_code == 0, two.err);
  const auto summary = json::parse(one.out)["stages"][0]["summary"];
  BOOST_REQUIRE(summary["laws"].size() == 2u);  // space b is not used by this stage
  for (const auto& law : summary["laws"]) {
    BOOST_TEST(law["space"] == "a");
    BOOST_TEST(law["count"] == 9000);
    BOOST_TEST(law["below"]["0"] == 0);
    BOOST_TEST(law["below"]["1000000000000"] == 9000);
    BOOST_TEST(law["min"].get<std::int64_t>() <= law["max"].get<std::int64_t>());
  }
  // weight_bytes is 4 x params: their logs correlate exactly.
  for (const auto& c : summary["correlations"])
    if (c["a"] == "params" && c["b"] == "weight_bytes")
      BOOST_TEST(c["pearson"].get<double>() > 0.999999);
  // The histogram holds every draw, and its bins below 5000 hold the draws below 5000.
  const auto hist = read_text(dir / "one" / "s-histogram.csv");
  std::istringstream lines(hist);
  std::string line;
  std::getline(lines, line);
  BOOST_TEST(line == "space,law,params_from,params_to,count");
  std::map<std::string, long> total, under;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) f.push_back(x);
    BOOST_REQUIRE(f.size() == 5u);
    total[f[1]] += std::stol(f[4]);
    if (std::stod(f[3]) <= 5000 * (1 + 1e-9)) under[f[1]] += std::stol(f[4]);
  }
  for (const auto& law : summary["laws"]) {
    const std::string name = law["law"];
    BOOST_TEST(total[name] == 9000);
    // Bins end at powers of 10^(1/10); the bins wholly under 5000 hold at most the draws under it.
    BOOST_TEST(under[name] <= law["below"]["5000"].get<long>());
  }
  // The same tables whatever the thread count.
  BOOST_TEST(read_text(dir / "one" / "s-histogram.csv") == read_text(dir / "two" / "s-histogram.csv"));
  BOOST_TEST(read_text(dir / "one" / "s-correlation.csv") == read_text(dir / "two" / "s-correlation.csv"));
  // A resume finds every unit stored and redoes none.
  const auto db = (dir / "one" / "results.db").string();
  const auto before = sql(db, "SELECT key || finished_at FROM units ORDER BY key;");
  auto again =
      run_narrow({"run", (dir / "e.yaml").string(), "--out", (dir / "one").string(), "--resume"});
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  BOOST_TEST(sql(db, "SELECT key || finished_at FROM units ORDER BY key;") == before);
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM units WHERE kind='statistics.law';") == "2\n");
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM draws;") == "0\n");
}

BOOST_AUTO_TEST_CASE(bad_statistics_parameters_are_input_errors) {
  const fs::path dir = fs::path(narrow::test::build_dir()) / "tests" / "statistics_bad";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "e.yaml")
      << "name: s\nseed: 1\nspaces:\n  - plugin: sequential\nstages:\n"
         "  - strategy: statistics\n    parameters: {correlate: \"params,weights\"}\n";
  auto r = run_narrow({"validate", (dir / "e.yaml").string()});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("unknown metric 'weights'") != std::string::npos, r.err);
  std::ofstream(dir / "f.yaml") << "name: s\nseed: 1\nspaces:\n  - plugin: sequential\nstages:\n"
                                   "  - strategy: statistics\n    parameters: {spaces: nope}\n";
  auto f = run_narrow({"run", (dir / "f.yaml").string(), "--out", (dir / "out").string()});
  BOOST_TEST(f.exit_code == 2);
  // Refused when the experiment is validated, at the value, before a run folder exists.
  BOOST_TEST(f.err.find((dir / "f.yaml").string() +
                        ":7:26: error: stage 'statistics' (strategy 'statistics'): parameter "
                        "'spaces': 'nope' is not a space of the experiment (spaces: "
                        "sequential)") == 0u,
             f.err);
  BOOST_TEST(!fs::exists(dir / "out"));
}
