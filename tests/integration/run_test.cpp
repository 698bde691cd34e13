#define BOOST_TEST_MODULE run
// `narrow run`: what the store keeps, the JSON summary, constraints that hold for every
// accepted architecture, and constraints that nothing satisfies (the run stops, never hangs).
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "support/run.hpp"
#include "support/sqlite.hpp"

namespace fs = std::filesystem;
using narrow::test::build_dir;
using narrow::test::run_narrow;
using narrow::test::sql;
using nlohmann::json;

namespace {
fs::path fresh(const std::string& name) {
  auto p = fs::path(build_dir()) / "tests" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}
const char* experiment = R"(name: run_check
seed: 5
spaces:
  - plugin: sequential
    parameters: {max_conv_layers: 3, max_fc_layers: 1}
    laws:
      A: {conv_layers: [1, 2], conv1.filters: [1, 16], conv2.filters: [1, 16]}
      B: law_b.yaml
constraints:
  params: 20k
  activation_peak_bytes: 40KiB
stages:
  - name: draw
    strategy: random
    parameters: {per_law: 150, batch: 64}
)";
}  // namespace

BOOST_AUTO_TEST_CASE(run_stores_everything_drawn) {
  auto dir = fresh("run_check");
  std::ofstream(dir / "e.yaml") << experiment;
  std::ofstream(dir / "law_b.yaml")
      << "conv_layers: [2, 3]\nconv1.kernel_h: ['3', '5']\nbatchnorm: [yes, yes]\n";
  const auto out = (dir / "out").string(), db = out + "/results.db";
  auto r = run_narrow({"run", (dir / "e.yaml").string(), "--out", out, "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto j = json::parse(r.out);
  BOOST_TEST(j["out"] == out);
  BOOST_TEST(j["store"] == db);
  BOOST_REQUIRE(j["stages"].size() == 1u);
  const auto& s = j["stages"][0];
  BOOST_TEST(s["name"] == "draw");
  BOOST_TEST(s["strategy"] == "random");
  BOOST_TEST(s["summary"]["accepted"] == 300);
  for (const auto& law : s["summary"]["laws"]) {
    BOOST_TEST(law["accepted"] == 150);
    BOOST_TEST(law["draws"].get<int>() ==
               law["accepted"].get<int>() + law["rejected"].get<int>() + law["invalid"].get<int>());
    const std::string name = law["law"];
    BOOST_TEST(sql(db, "SELECT COUNT(*) FROM draws WHERE law='" + name + "';") ==
               std::to_string(law["draws"].get<int>()) + "\n");
  }
  // Every accepted architecture keeps the constraints; every rejected one breaks one.
  BOOST_TEST(sql(db,
                 "SELECT COUNT(*) FROM draws d JOIN architectures a ON a.hash=d.hash WHERE "
                 "d.status='accepted' "
                 "AND (a.params > 20000 OR a.activation_peak_bytes > 40960);") == "0\n");
  BOOST_TEST(sql(db,
                 "SELECT COUNT(*) FROM draws d JOIN architectures a ON a.hash=d.hash WHERE "
                 "d.status='rejected' "
                 "AND a.params <= 20000 AND a.activation_peak_bytes <= 40960;") == "0\n");
  BOOST_TEST(sql(db,
                 "SELECT COUNT(*) FROM draws WHERE status='invalid' AND (hash IS NOT NULL AND hash "
                 "!= '');") == "0\n");
  // Law B came from its file: every draw of it has 2 or 3 conv layers and batch norm.
  BOOST_TEST(
      sql(db,
          "SELECT COUNT(*) FROM draws d JOIN architectures a ON a.hash=d.hash WHERE d.law='B' "
          "AND (a.json NOT LIKE '%batchnorm%' OR a.layers < 3);") == "0\n");
  // Run facts.
  BOOST_TEST(sql(db, "SELECT value FROM meta WHERE key='experiment_name';") == "run_check\n");
  // A query that fails fails the test instead of comparing its error text.
  BOOST_CHECK_THROW(sql(db, "SELECT no_such_column FROM draws;"), std::runtime_error);
  BOOST_CHECK_THROW(sql(out + "/no_such_folder/results.db", "SELECT 1;"), std::runtime_error);
  BOOST_TEST(sql(db, "SELECT value FROM meta WHERE key='seed';") == "5\n");
  BOOST_TEST(sql(db, "SELECT value FROM meta WHERE key='status';") == "finished\n");
  BOOST_TEST(sql(db, "SELECT value FROM meta WHERE key='narrow_version';") != "\n");
  BOOST_TEST(sql(db, "SELECT kind || ' ' || name || ' ' || version FROM plugins ORDER BY kind;") ==
             "space sequential 0.1.0\nstrategy random 0.1.0\n");
  auto resolved = sql(db, "SELECT value FROM meta WHERE key='experiment';");
  BOOST_TEST(resolved.find("conv3.pool_type") != std::string::npos);  // laws expanded
  BOOST_TEST(resolved.find("max_rejections") != std::string::npos);   // defaults filled in
}

BOOST_AUTO_TEST_CASE(constraints_nothing_satisfies_stop_the_run) {
  auto dir = fresh("run_impossible");
  std::ofstream(dir / "e.yaml") << R"(name: impossible
seed: 1
spaces:
  - plugin: sequential
constraints:
  params: 10
stages:
  - strategy: random
    parameters: {per_law: 5, max_rejections: 300, batch: 100}
)";
  const auto out = (dir / "out").string();
  auto r = run_narrow({"run", (dir / "e.yaml").string(), "--out", out, "--json"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(
      r.err.find("stopped after 300 rejected or invalid draws in a row with 0 of 5 accepted") !=
          std::string::npos,
      r.err);
  BOOST_TEST(r.err.find("params") != std::string::npos, r.err);
  const auto db = out + "/results.db";
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM draws;") == "300\n");
  BOOST_TEST(sql(db, "SELECT value FROM meta WHERE key='status';") == "failed\n");
  BOOST_TEST(sql(db, "SELECT status FROM sessions;") == "failed\n");
}

BOOST_AUTO_TEST_CASE(laws_can_come_from_one_file_of_named_laws) {
  auto dir = fresh("run_law_file");
  std::ofstream(dir / "laws.yaml") << "L1: {conv_layers: [1, 2]}\nL2: {conv_layers: [3, 4], conv1.filters: [2, 8]}\n";
  std::ofstream(dir / "e.yaml") << "name: lawfile\nseed: 1\nspaces:\n  - plugin: sequential\n    laws: laws.yaml\n"
                                   "stages:\n  - strategy: random\n    parameters: {per_law: 4}\n";
  const auto out = (dir / "out").string();
  auto r = run_narrow({"run", (dir / "e.yaml").string(), "--out", out, "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  auto laws = json::parse(r.out)["stages"][0]["summary"]["laws"];
  BOOST_REQUIRE(laws.size() == 2u);
  BOOST_TEST(laws[0]["law"] == "L1");
  BOOST_TEST(laws[1]["law"] == "L2");
  BOOST_TEST(sql(out + "/results.db", "SELECT COUNT(*) FROM draws d JOIN architectures a ON a.hash=d.hash "
                                      "WHERE d.law='L2' AND d.status='accepted' AND a.layers < 4;") == "0\n");
  // An error inside the law file names that file and its line.
  std::ofstream(dir / "laws.yaml") << "L1: {conv_layers: [1, 2]}\nL2: {conv_layers: [3, 40]}\n";
  auto bad = run_narrow({"validate", (dir / "e.yaml").string()});
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.err.find((dir / "laws.yaml").string() + ":2:") != std::string::npos, bad.err);
}
