#define BOOST_TEST_MODULE genetic_law_run
// The genetic_law strategy through `narrow run`: its records (a population and a learned law
// per search), the same laws whatever the thread count, a run killed during its searches that
// resumes to the laws of an uninterrupted run, and bad parameters refused at their place in
// the experiment file.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/run.hpp"
#include "support/sqlite.hpp"

namespace fs = std::filesystem;
using narrow::test::run_narrow;
using narrow::test::sql;

namespace {

// The sequential space on 3x32x32 inputs, windows of `decades` searched with `search`.
std::string experiment(const std::string& decades, const std::string& search) {
  return R"(name: genetic_law_check
seed: 5
spaces:
  - name: seq
    plugin: sequential
    parameters: {input: [3, 32, 32], max_conv_layers: 4, max_fc_layers: 1}
stages:
  - name: laws
    strategy: genetic_law
    parameters: {decades: )" +
         decades + ", " + search + "}\n";
}

const std::string tiny = "n_init: 10, n_steps: 40, n_eval: 5, tournament: 3";

// What the searches stored: every record's kind and data, by unit.
std::string laws_of(const std::string& db) {
  return sql(db, "SELECT unit, kind, data FROM records ORDER BY unit, kind, data;");
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(searches_store_populations_and_laws_the_same_on_1_and_2_threads) {
  const narrow::test::TempDir work("genetic_law_threads");
  const auto file = work.file("e.yaml");
  std::ofstream(file) << experiment("[3, 6]", tiny);
  auto one = run_narrow({"run", file, "--out", work.file("one"), "--threads", "1"});
  BOOST_REQUIRE_MESSAGE(one.exit_code == 0, one.err);
  auto two = run_narrow({"run", file, "--out", work.file("two"), "--threads", "2"});
  BOOST_REQUIRE_MESSAGE(two.exit_code == 0, two.err);
  const auto db1 = work.file("one/results.db"), db2 = work.file("two/results.db");
  BOOST_TEST(laws_of(db1) == laws_of(db2));
  BOOST_TEST(sql(db1, "SELECT key FROM units ORDER BY key;") ==
             sql(db2, "SELECT key FROM units ORDER BY key;"));

  // Nine windows from 1e3 to 1e6: nine searches, each with its population.
  BOOST_TEST(sql(db1, "SELECT COUNT(*) FROM units WHERE kind='genetic_law.search';") == "9\n");
  const auto pops = lines_of(sql(db1, "SELECT data FROM records WHERE kind='genetic_law.population' "
                                      "ORDER BY id;"));
  BOOST_REQUIRE_EQUAL(pops.size(), 9u);
  std::vector<std::string> windows;
  for (const auto& line : pops) {
    const auto j = nlohmann::json::parse(line);
    std::vector<std::string> keys;
    for (const auto& item : j.items()) keys.push_back(item.key());
    BOOST_TEST((keys == std::vector<std::string>{"metric", "population", "space", "space_key",
                                                 "window", "window_name"}));
    BOOST_TEST(j.at("space") == "seq");
    BOOST_TEST(j.at("metric") == "params");
    BOOST_TEST(j.at("window").size() == 2u);
    BOOST_TEST(j.at("window")[0].get<double>() < j.at("window")[1].get<double>());
    windows.push_back(j.at("window_name"));
    BOOST_REQUIRE_EQUAL(j.at("population").size(), 10u);
    for (const auto& law : j.at("population")) {
      BOOST_TEST(law.at("low").size() == law.at("high").size());
      for (std::size_t i = 0; i < law.at("low").size(); ++i)
        BOOST_TEST(law.at("low")[i].get<int>() <= law.at("high")[i].get<int>());
      BOOST_TEST((law.at("cost").is_null() || law.at("cost").get<double>() >= 0));
      BOOST_TEST(law.at("accepted").get<int>() <= 5);
    }
  }
  std::sort(windows.begin(), windows.end());
  BOOST_TEST((windows == std::vector<std::string>{"1e3-2e3", "1e4-2e4", "1e5-2e5", "2e3-5e3",
                                                  "2e4-5e4", "2e5-5e5", "5e3-1e4", "5e4-1e5",
                                                  "5e5-1e6"}));
  // The best law of each search is a learned law named SPACE.WINDOW.best.
  const auto names = sql(db1, "SELECT json_extract(data, '$.name') FROM records WHERE kind='law' "
                              "ORDER BY 1;");
  BOOST_TEST(names.find("seq.1e4-2e4.best\n") != std::string::npos, names);
  BOOST_TEST(one.err.find("laws seq params 1e4-2e4: best cost") != std::string::npos, one.err);
}

BOOST_AUTO_TEST_CASE(latency_windows_are_seconds_the_device_predicts) {
  const narrow::test::TempDir work("genetic_law_latency");
  const auto file = work.file("e.yaml");
  std::string text = experiment("[-4, -3]", "metric: latency, " + tiny);
  text.insert(text.find("stages:"), "device:\n  name: analytic\n");
  std::ofstream(file) << text;
  auto r = run_narrow({"run", file, "--out", work.file("out"), "--threads", "2"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const auto db = work.file("out/results.db");
  BOOST_TEST(sql(db, "SELECT json_extract(data, '$.window_name') FROM records WHERE "
                     "kind='genetic_law.population' ORDER BY 1;") ==
             "1e-4-2e-4\n2e-4-5e-4\n5e-4-1e-3\n");
  BOOST_TEST(sql(db, "SELECT DISTINCT json_extract(data, '$.metric') FROM records WHERE "
                     "kind='genetic_law.population';") == "latency\n");
  // Means are log10 of seconds: negative.
  const auto means = lines_of(sql(db, "SELECT json_extract(value, '$.mean') FROM records, "
                                      "json_each(json_extract(data, '$.population')) WHERE "
                                      "kind='genetic_law.population' AND json_extract(value, "
                                      "'$.mean') IS NOT NULL;"));
  BOOST_REQUIRE(!means.empty());
  for (const auto& m : means) BOOST_TEST(std::stod(m) < 0, m);
}

BOOST_AUTO_TEST_CASE(a_run_killed_during_its_searches_resumes_to_the_same_laws) {
  BOOST_REQUIRE_MESSAGE(std::system("command -v sqlite3 >/dev/null") == 0,
                        "the sqlite3 shell is needed (scripts/setup.sh installs it)");
  const narrow::test::TempDir work("genetic_law_resume");
  const auto file = work.file("e.yaml");
  // Searches long enough (a tenth of a second or more each) to be killed between two.
  std::ofstream(file) << experiment("[2, 7]", "n_steps: 5000");
  auto full = run_narrow({"run", file, "--out", work.file("full"), "--threads", "2"});
  BOOST_REQUIRE_MESSAGE(full.exit_code == 0, full.err);
  const auto full_db = work.file("full/results.db");
  const int searches = std::stoi(sql(full_db, "SELECT COUNT(*) FROM units;"));
  BOOST_REQUIRE_EQUAL(searches, 15);

  namespace bp = boost::process;
  const auto killed_db = work.file("killed/results.db");
  bp::child child(narrow::test::env("NARROW_EXE"),
                  bp::args({"run", file, "--out", work.file("killed"), "--threads", "1"}),
                  bp::std_out > bp::null, bp::std_err > bp::null);
  for (int i = 0; i < 4000 && child.running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (fs::exists(killed_db) && std::stoi(sql(killed_db, "SELECT COUNT(*) FROM units;")) >= 2)
      break;
  }
  BOOST_REQUIRE_MESSAGE(child.running(), "the run finished before it could be killed");
  ::kill(child.id(), SIGKILL);
  child.wait();
  const int at_kill = std::stoi(sql(killed_db, "SELECT COUNT(*) FROM units;"));
  BOOST_TEST_MESSAGE("killed after " << at_kill << " searches");
  BOOST_REQUIRE(at_kill >= 2);
  BOOST_REQUIRE(at_kill < searches);
  const auto before = sql(killed_db, "SELECT key || finished_at FROM units ORDER BY key;");

  auto r = run_narrow({"run", file, "--out", work.file("killed"), "--resume", "--threads", "2"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  // The searches stored before the kill were not redone.
  const auto after = sql(killed_db, "SELECT key || finished_at FROM units ORDER BY key;");
  for (const auto& line : lines_of(before))
    BOOST_TEST(after.find(line + "\n") != std::string::npos, "search redone: " << line);
  BOOST_TEST(laws_of(killed_db) == laws_of(full_db));
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_refused_where_they_are_written) {
  struct Bad {
    const char* file;
    int line, column;
    const char* fragment;
  };
  const Bad bad[] = {
      {"unknown_metric.yaml", 9, 26, "'accuracy'"},
      {"decades_reversed.yaml", 9, 27, "parameter 'decades': [7, 3] must be two decades [A, B] with A < B"},
      {"unknown_space.yaml", 11, 15, "parameter 'spaces': 'resnet' is not a space of the experiment (spaces: seq)"},
      {"latency_without_device.yaml", 9, 26, "parameter 'metric': 'latency' needs a device that predicts latency; the experiment names no device"},
      {"latency_measuring_device.yaml", 11, 26, "parameter 'metric': 'latency' needs a device that predicts latency; the experiment's device measures it"},
      {"tournament_above_population.yaml", 9, 41, "parameter 'tournament': 5 is more than the 4 laws of the population (n_init): allowed 2..4"},
  };
  const fs::path folder =
      fs::path(narrow::test::source_dir()) / "tests" / "fixtures" / "bad_experiments" / "genetic_law";
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(folder)) files += e.path().extension() == ".yaml";
  BOOST_TEST(files == std::size(bad));
  static const std::regex form(R"(^(.+):([0-9]+):([0-9]+): error: (.+)$)");
  for (const Bad& b : bad) {
    BOOST_TEST_CONTEXT(b.file) {
      const std::string file = (folder / b.file).string();
      const auto r = run_narrow({"validate", file});
      BOOST_TEST(r.exit_code == 2, "exit code " << r.exit_code << ", stderr: " << r.err);
      BOOST_TEST(r.out.empty());
      const auto ls = lines_of(r.err);
      BOOST_REQUIRE_MESSAGE(ls.size() == 1u, "stderr must be one line, it is:\n" << r.err);
      std::smatch m;
      BOOST_REQUIRE_MESSAGE(std::regex_match(ls.front(), m, form),
                            "'" << ls.front() << "' is not FILE:LINE:COLUMN: error: MESSAGE");
      BOOST_TEST(m[1].str() == file);
      BOOST_TEST(std::stoi(m[2].str()) == b.line, ls.front());
      BOOST_TEST(std::stoi(m[3].str()) == b.column, ls.front());
      BOOST_TEST(m[4].str().find(b.fragment) != std::string::npos,
                 "'" << m[4].str() << "' lacks '" << b.fragment << "'");
    }
  }
}
