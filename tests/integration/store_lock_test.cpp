#define BOOST_TEST_MODULE store_lock
// A run owns its store while it runs: a second run or resume of it is refused at once, naming
// the owner; a run killed with SIGKILL is taken over by --resume without cleaning up, and ends
// with the same store as an uninterrupted run. A run killed while creating its store leaves
// no store that run or --resume would trip over.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "support/files.hpp"
#include "support/run.hpp"
#include "support/sampling_run.hpp"
#include "support/sqlite.hpp"

namespace fs = std::filesystem;
namespace bp = boost::process;
using narrow::test::run_narrow;
using narrow::test::sql;

namespace {

const std::string experiment = narrow::test::sampling_experiment("lock_check", 3, 4000);

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::size_t lines(const std::string& text) {
  return std::size_t(std::count(text.begin(), text.end(), '\n'));
}

// The files of a folder whose name holds `part`.
std::string files_with(const fs::path& dir, const std::string& part) {
  std::string found;
  for (const auto& e : fs::directory_iterator(dir))
    if (has(e.path().filename().string(), part)) found += e.path().filename().string() + " ";
  return found;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_store_in_use_is_refused_and_a_dead_owner_is_taken_over) {
  const fs::path work = narrow::test::work_dir("store_lock");
  const auto file = (work / "e.yaml").string();
  std::ofstream(file) << experiment;
  const auto full = (work / "full").string(), shared = (work / "shared").string();

  auto a = run_narrow({"run", file, "--out", full, "--threads", "2"});
  BOOST_REQUIRE_MESSAGE(a.exit_code == 0, a.err);
  BOOST_TEST(!fs::exists(full + "/results.db.lock"), "a finished run lets go of its store");
  BOOST_TEST(files_with(full, ".partial").empty());

  // A run in the background; once it has stored a unit, it owns the store.
  const auto db = shared + "/results.db";
  bp::child first(narrow::test::env("NARROW_EXE"),
                  bp::args({"run", file, "--out", shared, "--threads", "1"}),
                  bp::std_out > bp::null, bp::std_err > bp::null);
  for (int i = 0; i < 4000 && first.running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (fs::exists(db) && std::atoi(sql(db, "SELECT COUNT(*) FROM units;").c_str()) >= 1) break;
  }
  BOOST_REQUIRE_MESSAGE(first.running(), "the first run ended before the test could start a second");
  const std::string pid = std::to_string(first.id());

  // A resume beside it is refused at once, naming the owner; so is a new run into the folder.
  auto resume = run_narrow({"run", file, "--out", shared, "--resume"});
  auto again = run_narrow({"run", file, "--out", shared});
  const bool still_running = first.running();
  BOOST_TEST(resume.exit_code == 2, resume.err);
  BOOST_TEST(has(resume.err, "results store " + db + " is in use by process " + pid + " on host "),
             resume.err);
  BOOST_TEST(has(resume.err, " since 20"), resume.err);
  BOOST_TEST(has(resume.err, "(narrow run)"), resume.err);
  BOOST_TEST(lines(resume.err) == 1u, resume.err);
  BOOST_TEST(again.exit_code == 2, again.err);
  BOOST_TEST(has(again.err, "is in use by process " + pid), again.err);
  // The lock file says who owns the store, for people too.
  {
    std::ifstream in(db + ".lock");
    std::string line;
    std::getline(in, line);
    BOOST_TEST(has(line, "\"pid\":" + pid), line);
  }

  // Killed with no chance to clean up: the lock file stays, and nobody holds it.
  BOOST_REQUIRE_MESSAGE(still_running, "the first run ended while the second was refused");
  ::kill(first.id(), SIGKILL);
  first.wait();
  BOOST_TEST(fs::exists(db + ".lock"));
  BOOST_TEST(sql(db, "SELECT value FROM meta WHERE key='status';") != "finished\n");

  // --resume takes the store over, says so, and finishes it as if nothing happened.
  auto r = run_narrow({"run", file, "--out", shared, "--resume", "--threads", "2"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(has(r.err, "was held by process " + pid), r.err);
  BOOST_TEST(has(r.err, "taking it over"), r.err);
  BOOST_TEST(narrow::test::store_contents(db) == narrow::test::store_contents(full + "/results.db"));
  BOOST_TEST(sql(db, "SELECT value FROM meta WHERE key='status';") == "finished\n");
  BOOST_TEST(!fs::exists(db + ".lock"));
}

BOOST_AUTO_TEST_CASE(a_run_killed_while_creating_its_store_leaves_none) {
  const fs::path work = narrow::test::work_dir("store_lock_create");
  const auto file = (work / "e.yaml").string();
  std::ofstream(file) << experiment;
  const auto out = (work / "out").string(), db = out + "/results.db";
  const std::string small = "stages.0.parameters.per_law=100";

  // Killed (SIGKILL) right after the new store's file was created, before the experiment is
  // recorded in it (NARROW_TEST_KILL_AT, a hook for tests only).
  auto killed = run_narrow({"run", file, "--out", out, "--set", small},
                           {"NARROW_TEST_KILL_AT=store-created"});
  BOOST_TEST(killed.exit_code != 0);
  BOOST_TEST(!fs::exists(db), "a store without its experiment is under the final name");
  BOOST_TEST(!files_with(out, ".partial").empty(), "the hook did not stop the run where asked");

  // Nothing to resume: said in one line.
  auto resume = run_narrow({"run", file, "--out", out, "--resume", "--set", small});
  BOOST_TEST(resume.exit_code == 2, resume.err);
  BOOST_TEST(has(resume.err, "nothing to resume"), resume.err);
  BOOST_TEST(lines(resume.err) == 1u, resume.err);

  // What an older narrow, which created the store in place, left when killed there: a
  // results.db with the schema and no experiment. --resume records the experiment and runs.
  const fs::path old = work / "old";
  fs::create_directories(old);
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string name = e.path().filename().string();
    const auto at = name.find(".partial");
    if (at != std::string::npos && !has(name, "-shm"))
      fs::copy_file(e.path(), old / ("results.db" + name.substr(at + 8)));
  }
  BOOST_REQUIRE(fs::exists(old / "results.db"));
  auto refused = run_narrow({"run", file, "--out", old.string(), "--set", small});
  BOOST_TEST(refused.exit_code == 2, refused.err);
  BOOST_TEST(has(refused.err, "continue it with --resume"), refused.err);
  auto finished = run_narrow({"run", file, "--out", old.string(), "--resume", "--set", small});
  BOOST_REQUIRE_MESSAGE(finished.exit_code == 0, finished.err);
  BOOST_TEST(has(finished.err, "holds no experiment (its run was killed while creating it)"),
             finished.err);
  const auto old_db = (old / "results.db").string();
  BOOST_TEST(sql(old_db, "SELECT value FROM meta WHERE key='status';") == "finished\n");
  BOOST_TEST(sql(old_db, "SELECT COUNT(*) FROM draws WHERE status='accepted';") == "200\n");

  // The run started again works, and clears what the killed one left.
  auto r = run_narrow({"run", file, "--out", out, "--set", small});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(sql(db, "SELECT value FROM meta WHERE key='status';") == "finished\n");
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM draws WHERE status='accepted';") == "200\n");
  BOOST_TEST(files_with(out, ".partial").empty());
  BOOST_TEST(!fs::exists(db + ".lock"));
}
