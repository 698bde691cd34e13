#define BOOST_TEST_MODULE precision_stage
// The `precision` stage end to end on small synthetic data: every trained model evaluated in
// every format of the experiment, stored per (model, format); the summary's best formats and
// fronts; independence from the number of parallel jobs; resume redoes only what is missing,
// after lost rows and after a SIGKILL in the middle of the stage.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/run.hpp"
#include "support/sqlite.hpp"

namespace fs = std::filesystem;
using narrow::test::run_narrow;
using narrow::test::work_dir;
using narrow::test::source_dir;
using narrow::test::sql;
using nlohmann::json;
using Args = std::vector<std::string>;

namespace {
Args operator+(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
}  // namespace

namespace {

std::string experiment() {
  return (fs::path(source_dir()) / "experiments" / "smoke" / "precision.yaml").string();
}

// The precision evaluations of a store, without times.
std::string precisions(const std::string& db) {
  return sql(db,
             "SELECT key, stage, training, hash, format, format_key, bits, split, rounding, "
             "parameters, weight_bytes, accuracy, loss FROM precisions ORDER BY key;");
}

std::size_t lines(const std::string& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string l; std::getline(in, l);) ++n;
  return n;
}

// The experiment lists 9 + 1 + 1 + 2 + 1 formats; 4 models train.
constexpr int kFormats = 14, kModels = 4;

}  // namespace

BOOST_AUTO_TEST_CASE(precision_stage_fills_the_store_and_reports_fronts) {
  BOOST_REQUIRE_MESSAGE(std::system("command -v sqlite3 >/dev/null") == 0,
                        "the sqlite3 shell is needed (scripts/setup.sh installs it)");
  const auto work = work_dir("precision_stage");
  const auto one = (work / "one").string();
  auto a = run_narrow(Args{"run", experiment(), "--out", one, "--jobs", "1", "--torch-threads",
                           "1", "--json"});
  BOOST_REQUIRE_MESSAGE(a.exit_code == 0, a.err);
  const json summary = json::parse(a.out)["stages"][2]["summary"];
  const auto db = one + "/results.db";

  // One unit per (model, format), and one float32 reference per model.
  const int expected = kModels * (kFormats + 1);
  BOOST_TEST(summary["evaluations"] == expected);
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM precisions;") == std::to_string(expected) + "\n");
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM units WHERE kind='precision';") ==
             std::to_string(expected) + "\n");
  BOOST_TEST(sql(db, "SELECT COUNT(DISTINCT training) FROM precisions;") == "4\n");
  BOOST_TEST(sql(db, "SELECT group_concat(DISTINCT format) FROM (SELECT format FROM precisions "
                     "ORDER BY bits, format);") ==
             "ieee(2,1),ieee(2,2),ieee(3,1),fixed(2,3),ieee(2,3),ieee(3,2),ieee(4,1),ieee(3,3),"
             "ieee(4,2),e4m3,fixed(2,5),ieee(4,3),int8,half,float32\n");
  // Memory: the parameters after folding at the format's bits, bit-packed, for every format
  // but int8, which stores int32 biases and scales and zero points beside its int8 weights.
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM precisions WHERE format != 'int8' AND weight_bytes "
                     "!= (parameters * bits + 7) / 8;") == "0\n");
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM precisions WHERE format = 'int8' AND weight_bytes "
                     "> parameters;") == std::to_string(kModels) + "\n");
  // float32 with batch norm folded reproduces each model's stored test accuracy (within
  // one image of 120: folding changes the rounding of sums).
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM precisions p JOIN trainings t ON t.key = p.training "
                     "WHERE p.format = 'float32' AND abs(p.accuracy - t.test_accuracy) > "
                     "1.0 / 120 + 1e-9;") == "0\n");
  // Half precision loses at most one image on these models; two-bit types lose a lot.
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM precisions h JOIN precisions f ON f.training = "
                     "h.training AND f.format = 'float32' WHERE h.format = 'half' AND "
                     "abs(h.accuracy - f.accuracy) > 1.0 / 120 + 1e-9;") == "0\n");

  // Per model: the best format is within the drop and no format within it is smaller.
  BOOST_REQUIRE(summary["models"].size() == std::size_t(kModels));
  for (const auto& m : summary["models"]) {
    const double f32 = m["float32_accuracy"];
    const json& best = m["best"];
    BOOST_REQUIRE(!best.is_null());
    BOOST_TEST(double(best["accuracy"]) >= f32 - 0.02 - 1e-12);
    const std::string smaller = sql(
        db, "SELECT COUNT(*) FROM precisions WHERE training = '" + std::string(m["training"]) +
                "' AND weight_bytes < " + std::to_string(std::int64_t(best["weight_bytes"])) +
                " AND accuracy >= " + std::to_string(f32 - 0.02 + 1e-9) + ";");
    BOOST_TEST(smaller == "0\n", m.dump());
  }

  // Fronts: float32, the best 16-bit and 8-bit formats over all models, each model's best.
  const json& fronts = summary["fronts"];
  BOOST_REQUIRE(fronts.size() == 4u);
  BOOST_TEST(fronts[0]["name"] == "float32");
  BOOST_TEST(std::string(fronts[1]["name"]).starts_with("best 16-bit (half)"));
  BOOST_TEST(std::string(fronts[2]["name"]).starts_with("best 8-bit ("));
  BOOST_TEST(fronts[3]["name"] == "each model's best format");
  for (const auto& f : fronts) {
    // Along a front, memory grows and so does accuracy.
    const json& ps = f["points"];
    BOOST_REQUIRE(!ps.empty());
    for (std::size_t i = 1; i < ps.size(); ++i) {
      BOOST_TEST(std::int64_t(ps[i]["weight_bytes"]) > std::int64_t(ps[i - 1]["weight_bytes"]));
      BOOST_TEST(double(ps[i]["accuracy"]) > double(ps[i - 1]["accuracy"]));
    }
    if (f["format"] != "")
      for (const auto& p : ps) BOOST_TEST(p["format"] == f["format"]);
  }
  // No evaluation is more accurate than the overall front within the same memory.
  const json& all = fronts[3]["points"];
  const std::string beaten =
      sql(db, "SELECT weight_bytes, accuracy FROM precisions ORDER BY weight_bytes;");
  std::istringstream rows(beaten);
  for (std::string row; std::getline(rows, row);) {
    const auto bar = row.find('|');
    const std::int64_t bytes = std::stoll(row.substr(0, bar));
    const double acc = std::stod(row.substr(bar + 1));
    double best = -1;
    for (const auto& p : all)
      if (std::int64_t(p["weight_bytes"]) <= bytes) best = std::max(best, double(p["accuracy"]));
    BOOST_TEST(acc <= best + 1e-12, row);
  }
  // Within every weight budget, the models in their best formats are at least as accurate as
  // the float32 models that fit.
  BOOST_TEST(!summary["budgets"].empty());
  for (const auto& b : summary["budgets"])
    if (!b["float32"].is_null())
      BOOST_TEST(double(b["each model's best format"]) >= double(b["float32"]));

  // The files behind the figure.
  BOOST_TEST(lines(one + "/precision.precision.csv") == std::size_t(expected + 1));
  std::size_t front_points = 0;
  for (const auto& f : fronts) front_points += f["points"].size();
  BOOST_TEST(lines(one + "/precision.fronts.csv") == front_points + 1);
  BOOST_TEST(a.err.find("accuracy within a memory budget, per front") != std::string::npos, a.err);

  // `narrow precision --store` chooses the best training of each architecture and evaluates
  // it as the stage does: the same accuracies as the stage's rows.
  auto c = run_narrow(Args{"precision", "--store", db, "--format", "half", "--format", "int8",
                           "--threads", "1", "--json"});
  BOOST_REQUIRE_MESSAGE(c.exit_code == 0, c.err);
  const json command = json::parse(c.out);
  BOOST_TEST(command["models"].size() == std::size_t(kModels));
  for (const auto& m : command["models"])
    for (const auto& r : m["results"]) {
      const std::string stored =
          sql(db, "SELECT accuracy FROM precisions WHERE hash = '" +
                      std::string(m["architecture_hash"]) + "' AND format = '" +
                      std::string(r["format"]) + "';");
      BOOST_TEST(std::abs(std::stod(stored) - double(r["accuracy"])) < 1e-12,
                 m["architecture_hash"] << " " << r["format"] << ": " << stored << " vs "
                                        << r["accuracy"]);
    }
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM precisions;") == std::to_string(expected) + "\n");

  // Two models at once give the same results.
  const auto two = (work / "two").string();
  auto b = run_narrow(Args{"run", experiment(), "--out", two, "--jobs", "2", "--torch-threads",
                           "1"});
  BOOST_REQUIRE_MESSAGE(b.exit_code == 0, b.err);
  BOOST_TEST(b.err.find("2 models at once, 1 LibTorch thread each") != std::string::npos, b.err);
  BOOST_TEST(precisions(db) == precisions(two + "/results.db"));

  // Evaluations lost (as a killed run loses its last units) are redone on resume, and only
  // those; the store ends as it was.
  const std::string kept =
      sql(db, "SELECT key || finished_at FROM units WHERE kind='precision' AND key NOT IN "
              "(SELECT key FROM precisions WHERE format IN ('int8', 'e4m3'));");
  sql(db, "PRAGMA foreign_keys=ON; DELETE FROM precisions WHERE format IN ('int8', 'e4m3'); "
          "DELETE FROM units WHERE kind='precision' AND key NOT IN (SELECT key FROM precisions);");
  BOOST_REQUIRE(sql(db, "SELECT COUNT(*) FROM precisions;") ==
                std::to_string(expected - 2 * kModels) + "\n");
  auto r = run_narrow(Args{"run", experiment(), "--out", one, "--resume", "--jobs", "1",
                           "--torch-threads", "1"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(r.err.find("trained before") != std::string::npos, r.err);
  BOOST_TEST(r.err.find(std::to_string(2 * kModels) + " evaluations to do, " +
                        std::to_string(expected - 2 * kModels) + " stored before") !=
                 std::string::npos,
             r.err);
  BOOST_TEST(precisions(db) == precisions(two + "/results.db"));
  const std::string after = sql(db, "SELECT key || finished_at FROM units WHERE kind='precision';");
  std::istringstream before(kept);
  for (std::string line; std::getline(before, line);)
    BOOST_TEST(after.find(line) != std::string::npos, "evaluation redone: " << line);
}

// A run killed with SIGKILL in the middle of its precision stage, then resumed, ends with the
// same evaluations as an uninterrupted run, and redoes none of those stored before the kill
// (nor any training).
BOOST_AUTO_TEST_CASE(killed_precision_stage_resumes_to_the_same_evaluations) {
  BOOST_REQUIRE_MESSAGE(std::system("command -v sqlite3 >/dev/null") == 0,
                        "the sqlite3 shell is needed (scripts/setup.sh installs it)");
  const auto work = work_dir("precision_resume");
  // More test images, so that each evaluation takes a moment and the run can be killed
  // between two; one evaluation at a time.
  const Args options = {"--set", "dataset.parameters.test=2000", "--jobs", "1",
                        "--torch-threads", "1"};
  const auto full = (work / "full").string(), killed = (work / "killed").string();
  auto a = run_narrow(Args{"run", experiment(), "--out", full} + options);
  BOOST_REQUIRE_MESSAGE(a.exit_code == 0, a.err);
  const int expected = kModels * (kFormats + 1);
  BOOST_REQUIRE(sql(full + "/results.db", "SELECT COUNT(*) FROM precisions;") ==
                std::to_string(expected) + "\n");

  namespace bp = boost::process;
  const auto db = killed + "/results.db";
  bp::child child(narrow::test::env("NARROW_EXE"),
                  bp::args(Args{"run", experiment(), "--out", killed} + options),
                  bp::std_out > bp::null, bp::std_err > bp::null);
  for (int i = 0; i < 12000 && child.running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!fs::exists(db)) continue;
    int stored = 0;
    try {
      stored = std::atoi(sql(db, "SELECT COUNT(*) FROM precisions;").c_str());
    } catch (const std::runtime_error&) {
      continue;  // the store is being created or written: look again
    }
    if (stored >= 3) break;
  }
  BOOST_REQUIRE_MESSAGE(child.running(), "the run finished before it could be killed");
  ::kill(child.id(), SIGKILL);
  child.wait();
  const int at_kill = std::stoi(sql(db, "SELECT COUNT(*) FROM units WHERE kind='precision';"));
  BOOST_TEST_MESSAGE("killed with " << at_kill << " of " << expected << " evaluations stored");
  BOOST_REQUIRE(at_kill >= 3);
  BOOST_REQUIRE(at_kill < expected);
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM precisions;") == std::to_string(at_kill) + "\n");
  BOOST_TEST(sql(db, "SELECT value FROM meta WHERE key='status';") != "finished\n");
  const auto before = sql(db, "SELECT key || finished_at FROM units WHERE kind IN ('precision', "
                              "'training') ORDER BY key;");

  auto r = run_narrow(Args{"run", experiment(), "--out", killed, "--resume"} + options);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(r.err.find(std::to_string(kModels) + " trained before") != std::string::npos, r.err);
  BOOST_TEST(r.err.find(std::to_string(expected - at_kill) + " evaluations to do, " +
                        std::to_string(at_kill) + " stored before") != std::string::npos,
             r.err);
  const auto after = sql(db, "SELECT key || finished_at FROM units WHERE kind IN ('precision', "
                             "'training') ORDER BY key;");
  std::istringstream kept(before);
  for (std::string line; std::getline(kept, line);)
    BOOST_TEST(after.find(line) != std::string::npos, "unit redone on resume: " << line);
  BOOST_TEST(precisions(db) == precisions(full + "/results.db"));
  BOOST_TEST(sql(db, "SELECT value FROM meta WHERE key='status';") == "finished\n");
}

BOOST_AUTO_TEST_CASE(a_precision_stage_needs_trained_models) {
  const auto work = work_dir("precision_stage_untrained");
  // The train stage keeps no weights: the precision stage has nothing to evaluate.
  auto r = run_narrow(Args{"run", experiment(), "--out", (work / "run").string(), "--set",
                           "stages.1.parameters.keep_weights=false"});
  BOOST_TEST(r.exit_code == 1, r.err);
  BOOST_TEST(r.err.find("stage 'precision': no successful training with stored weights (4 "
                        "trainings kept no weights)") != std::string::npos,
             r.err);
}
