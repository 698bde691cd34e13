#define BOOST_TEST_MODULE resume
// A run killed with SIGKILL part way and continued with --resume ends with the same store as
// an uninterrupted run of the same experiment and seed, and redoes nothing that finished.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/run.hpp"
#include "support/sampling_run.hpp"
#include "support/sqlite.hpp"

namespace fs = std::filesystem;
using narrow::test::build_dir;
using narrow::test::run_narrow;
using narrow::test::sql;

namespace {

const std::string experiment = narrow::test::sampling_experiment("resume_check", 11, 2500);

}  // namespace

BOOST_AUTO_TEST_CASE(killed_run_resumes_to_the_same_store) {
  BOOST_REQUIRE_MESSAGE(std::system("command -v sqlite3 >/dev/null") == 0,
                        "the sqlite3 shell is needed (scripts/setup.sh installs it)");
  const fs::path work = fs::path(build_dir()) / "tests" / "resume";
  fs::remove_all(work);
  fs::create_directories(work);
  const auto file = (work / "resume.yaml").string();
  std::ofstream(file) << experiment;
  const auto full = (work / "full").string(), killed = (work / "killed").string();

  auto a = run_narrow({"run", file, "--out", full, "--threads", "2"});
  BOOST_REQUIRE_MESSAGE(a.exit_code == 0, a.err);
  const auto full_db = full + "/results.db";
  const auto units = std::stoi(sql(full_db, "SELECT COUNT(*) FROM units;"));
  BOOST_TEST_MESSAGE("uninterrupted run stored " << units << " units");
  BOOST_REQUIRE(units > 20);

  // Start the same run, and kill it once a few units are stored.
  namespace bp = boost::process;
  const auto killed_db = killed + "/results.db";
  bp::child child(narrow::test::env("NARROW_EXE"),
                  bp::args({"run", file, "--out", killed, "--threads", "1"}),
                  bp::std_out > bp::null, bp::std_err > bp::null);
  int stored = 0;
  for (int i = 0; i < 2000 && child.running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!fs::exists(killed_db)) continue;
    auto n = sql(killed_db, "SELECT COUNT(*) FROM units;");
    stored = std::atoi(n.c_str());
    if (stored >= 3) break;
  }
  BOOST_REQUIRE_MESSAGE(child.running(), "the run finished before it could be killed");
  ::kill(child.id(), SIGKILL);
  child.wait();
  const auto at_kill = std::stoi(sql(killed_db, "SELECT COUNT(*) FROM units;"));
  BOOST_TEST_MESSAGE("killed after " << at_kill << " units");
  BOOST_REQUIRE(at_kill < units);
  BOOST_TEST(sql(killed_db, "SELECT value FROM meta WHERE key='status';") != "finished\n");
  // Every stored unit is complete: its draws are there.
  BOOST_TEST(sql(killed_db,
                 "SELECT COUNT(*) FROM units u WHERE NOT EXISTS (SELECT 1 FROM draws d WHERE "
                 "d.unit=u.key);") == "0\n");

  // A second run into the same folder without --resume is refused.
  auto again = run_narrow({"run", file, "--out", killed});
  BOOST_TEST(again.exit_code == 2);
  BOOST_TEST(again.err.find("already holds a run") != std::string::npos, again.err);
  // A resume of a different experiment is refused.
  auto changed = run_narrow({"run", file, "--out", killed, "--resume", "--set", "seed=12"});
  BOOST_TEST(changed.exit_code == 2);
  BOOST_TEST(changed.err.find("differs from the one stored") != std::string::npos, changed.err);

  const auto before = sql(killed_db, "SELECT key || finished_at FROM units ORDER BY key;");
  auto r = run_narrow({"run", file, "--out", killed, "--resume", "--threads", "2"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  // Finished units were not redone: the same rows with the same times are still there.
  const auto after = sql(killed_db, "SELECT key || finished_at FROM units ORDER BY key;");
  std::size_t kept = 0;
  for (std::size_t pos = 0; (pos = before.find('\n', pos)) != std::string::npos; ++pos) ++kept;
  BOOST_TEST(kept == std::size_t(at_kill));
  std::string missing;
  std::size_t start = 0;
  for (std::size_t end; (end = before.find('\n', start)) != std::string::npos; start = end + 1) {
    auto line = before.substr(start, end - start);
    if (after.find(line) == std::string::npos) missing += line + "\n";
  }
  BOOST_TEST(missing.empty(), "units redone on resume: " << missing);

  BOOST_TEST(narrow::test::store_contents(killed_db) == narrow::test::store_contents(full_db));
  BOOST_TEST(sql(killed_db, "SELECT COUNT(*) FROM sessions WHERE resumed=1;") == "1\n");
  BOOST_TEST(sql(killed_db, "SELECT value FROM meta WHERE key='status';") == "finished\n");
}

BOOST_AUTO_TEST_CASE(same_seed_same_store_whatever_the_threads) {
  const fs::path work = fs::path(build_dir()) / "tests" / "resume_threads";
  fs::remove_all(work);
  fs::create_directories(work);
  const auto file = (work / "e.yaml").string();
  std::ofstream(file) << experiment;
  auto one = run_narrow({"run", file, "--out", (work / "one").string(), "--threads", "1", "--set",
                         "stages.0.parameters.per_law=300"});
  auto two = run_narrow({"run", file, "--out", (work / "two").string(), "--threads", "2", "--set",
                         "stages.0.parameters.per_law=300"});
  BOOST_REQUIRE_MESSAGE(one.exit_code == 0, one.err);
  BOOST_REQUIRE_MESSAGE(two.exit_code == 0, two.err);
  BOOST_TEST(narrow::test::store_contents((work / "one/results.db").string()) ==
             narrow::test::store_contents((work / "two/results.db").string()));
  auto n = sql((work / "one/results.db").string(),
               "SELECT COUNT(*) FROM draws WHERE status='accepted';");
  BOOST_TEST(n == "600\n");
}
