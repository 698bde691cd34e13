#define BOOST_TEST_MODULE ablation
// Ablation variants and seeds (experiments/smoke/ablation.yaml): every variant runs under every
// seed into one store, a unit two runs need is done once and used by both, each run sees only
// its own results, and a run killed between two runs resumes to the store a straight run makes.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/run.hpp"
#include "support/sqlite.hpp"

namespace fs = std::filesystem;
using narrow::test::work_dir;
using narrow::test::run_narrow;
using narrow::test::source_dir;
using narrow::test::sql;
using nlohmann::json;

namespace {

std::string smoke() {
  return (fs::path(source_dir()) / "experiments" / "smoke" / "ablation.yaml").string();
}

// The units run RUN's stage STAGE used, sorted, one per line.
std::string used(const std::string& db, const std::string& run, const std::string& stage) {
  return sql(db, "SELECT unit FROM uses WHERE run = '" + run + "' AND stage = '" + stage +
                     "' ORDER BY unit;");
}

// Everything a run computed, without times: what two runs of the same file must agree on.
std::string results(const std::string& db) {
  return sql(db,
             "SELECT key, kind, stage, result FROM units WHERE kind <> 'training' ORDER BY key;"
             "SELECT key, stage, hash, epochs, val_accuracy, test_accuracy FROM trainings "
             "ORDER BY key;"
             "SELECT * FROM draws ORDER BY stage, space, law, draw;"
             "SELECT run, stage, unit FROM uses ORDER BY run, stage, unit;"
             "SELECT id, variant, seed, status FROM runs ORDER BY id;");
}

}  // namespace

BOOST_AUTO_TEST_CASE(variants_and_seeds_run_into_one_store_and_share_units) {
  const auto dir = work_dir("ablation_runs");
  const std::string out = (dir / "out").string(), db = out + "/results.db";
  auto r = run_narrow({"run", smoke(), "--out", out, "--json"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);

  // Seed-major order: the experiment, then each variant, at each seed.
  BOOST_TEST(sql(db, "SELECT id, variant, seed, status FROM runs ORDER BY rowid;") ==
             "|base|3|finished\n"
             "short_training@3|short_training|3|finished\n"
             "uniform@3|uniform|3|finished\n"
             "base@4|base|4|finished\n"
             "short_training@4|short_training|4|finished\n"
             "uniform@4|uniform|4|finished\n");
  const json j = json::parse(r.out);
  BOOST_REQUIRE(j.at("runs").size() == 6u);
  BOOST_TEST(j.at("runs")[2].at("id") == "uniform@3");
  BOOST_TEST(j.at("runs")[2].at("stages").size() == 2u);

  // `short_training` changes only the training stage: its sampling stage is the experiment's,
  // reused at each seed and never redone, while its trainings are its own (1 epoch, not 2).
  for (const std::string seed : {"3", "4"}) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      const std::string base = seed == "3" ? "" : "base@" + seed;
      const std::string variant = "short_training@" + seed;
      BOOST_TEST(!used(db, base, "sample").empty());
      BOOST_TEST(used(db, variant, "sample") == used(db, base, "sample"));
      BOOST_TEST(used(db, variant, "train") != used(db, base, "train"));
      BOOST_TEST(sql(db, "SELECT DISTINCT t.epochs FROM trainings t JOIN uses u ON u.unit = t.key "
                         "WHERE u.run = '" + variant + "';") == "1\n");
      BOOST_TEST(sql(db, "SELECT DISTINCT t.epochs FROM trainings t JOIN uses u ON u.unit = t.key "
                         "WHERE u.run = '" + base + "';") == "2\n");
      // `uniform` draws from another law: both of its stages are its own.
      BOOST_TEST(used(db, "uniform@" + seed, "sample") != used(db, base, "sample"));
    }
  }
  BOOST_TEST(sql(db, "SELECT count(*) FROM units WHERE stage LIKE 'short_training@%/sample';") ==
             "0\n");
  // Another seed draws other architectures.
  BOOST_TEST(used(db, "base@4", "sample") != used(db, "", "sample"));
  // Each run trained (or reused) exactly its own selection of two.
  BOOST_TEST(sql(db, "SELECT run, count(*) FROM uses u JOIN trainings t ON t.key = u.unit "
                     "GROUP BY run ORDER BY run;") ==
             "|2\nbase@4|2\nshort_training@3|2\nshort_training@4|2\nuniform@3|2\nuniform@4|2\n");
  // The draws a run stored itself carry its id.
  BOOST_TEST(sql(db, "SELECT DISTINCT stage FROM draws ORDER BY stage;") ==
             "base@4/sample\nsample\nuniform@3/sample\nuniform@4/sample\n");

  // --seeds replaces the file's seeds; a resume with other seeds is another experiment.
  auto other = run_narrow({"run", smoke(), "--out", out, "--resume", "--seeds", "3"});
  BOOST_TEST(other.exit_code == 2);
  BOOST_TEST(other.err.find("the experiment differs from the one stored") != std::string::npos,
             other.err);
  auto bad = run_narrow({"validate", smoke(), "--seeds", "3,x"});
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.err == "narrow validate: error: --seeds '3,x': expected a comma list of integers 0..2^64-1, e.g. "
                        "1,2,3\n");
  auto one = run_narrow({"run", smoke(), "--out", (dir / "one").string(), "--seeds", "5"});
  BOOST_REQUIRE_MESSAGE(one.exit_code == 0, one.err);
  BOOST_TEST(sql((dir / "one" / "results.db").string(), "SELECT id FROM runs ORDER BY rowid;") ==
             "\nshort_training@5\nuniform@5\n");  // the first seed is the experiment's own
}

BOOST_AUTO_TEST_CASE(a_run_killed_between_variants_resumes_to_the_same_store) {
  const auto dir = work_dir("ablation_resume");
  const std::string straight = (dir / "straight").string(), killed = (dir / "killed").string();
  auto r = run_narrow({"run", smoke(), "--out", straight});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);

  auto k = run_narrow({"run", smoke(), "--out", killed},
                      {"NARROW_TEST_KILL_AT=run-finished:uniform@3"});
  BOOST_REQUIRE(k.exit_code != 0);
  const std::string db = killed + "/results.db";
  BOOST_TEST(sql(db, "SELECT id, status FROM runs ORDER BY rowid;") ==
             "|finished\nshort_training@3|finished\nuniform@3|finished\n");
  const std::string units_before = sql(db, "SELECT count(*) FROM units;");

  auto resumed = run_narrow({"run", smoke(), "--out", killed, "--resume"});
  BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
  BOOST_TEST(results(db) == results(straight + "/results.db"));
  // The resume did only the runs of seed 4: nothing of seed 3 was done again.
  BOOST_TEST(sql(db, "SELECT count(*) FROM units WHERE stage NOT LIKE '%@4/%';") == units_before);
  // A second resume finds everything done and adds nothing.
  const std::string all = sql(db, "SELECT count(*) FROM units;");
  auto again = run_narrow({"run", smoke(), "--out", killed, "--resume"});
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  BOOST_TEST(sql(db, "SELECT count(*) FROM units;") == all);
}
