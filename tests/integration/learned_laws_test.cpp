#define BOOST_TEST_MODULE learned_laws
// Later stages draw from learned laws (Scheidegger et al. §4) on small settings: genetic_law
// searches, spectral keeps a law per cluster, then random and statistics draw from the laws
// of the `cluster` stage (`laws: STAGE`), and `narrow laws` refuses what it cannot write. The
// law file's round trip is in spectral_test, the searches' resume in genetic_law_test.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/files.hpp"
#include "support/run.hpp"
#include "support/text.hpp"
#include "support/sqlite.hpp"

using narrow::test::read_text;

namespace fs = std::filesystem;
using narrow::test::run_narrow;
using narrow::test::sql;

namespace {

const char* const pipeline =
    "name: learned\nseed: 3\nspaces:\n"
    "  - {name: seq, plugin: sequential, parameters: {input: [3, 32, 32], max_conv_layers: 4}}\n"
    "stages:\n"
    "  - {name: search, strategy: genetic_law,\n"
    "     parameters: {decades: [3, 5], n_init: 12, n_steps: 24, n_eval: 4}}\n"
    "  - {name: cluster, strategy: spectral, parameters: {search: search, k: 3}}\n"
    "  - {name: sample, strategy: random, parameters: {laws: cluster, per_law: 5}}\n"
    "  - {name: stats, strategy: statistics,\n"
    "     parameters: {laws: cluster, per_law: 50, pool: true, range: [3, 5], correlate: \"\"}}\n";

}  // namespace

BOOST_AUTO_TEST_CASE(later_stages_draw_from_the_learned_laws) {
  const fs::path dir = narrow::test::work_dir("learned_laws");
  std::ofstream(dir / "x.yaml") << pipeline;
  const auto r = run_narrow({"run", (dir / "x.yaml").string(), "--out", (dir / "run").string(),
                             "--threads", "2"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const std::string db = (dir / "run" / "results.db").string();
  // The grid 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5 gives six windows; spectral keeps up to k = 3
  // laws of each, genetic_law its best one.
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM units WHERE kind='genetic_law.search';") == "6\n");
  const int learned = std::stoi(sql(db, "SELECT COUNT(*) FROM records WHERE kind='law' AND stage='cluster';"));
  BOOST_TEST(learned >= 6);
  BOOST_TEST(learned <= 18);
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM records WHERE kind='law' AND stage='search';") == "6\n");
  // random drew per_law accepted architectures from every learned law, under its name.
  BOOST_TEST(sql(db, "SELECT COUNT(DISTINCT law) FROM draws WHERE stage='sample';") ==
             std::to_string(learned) + "\n");
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM draws WHERE stage='sample' AND status='accepted';") ==
             std::to_string(5 * learned) + "\n");
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM draws WHERE stage='sample' AND law NOT LIKE 'seq.%.c%';") == "0\n");
  // statistics checked every learned law against its window and wrote the coverage.
  const std::string windows = read_text(dir / "run" / "stats-windows.csv");
  BOOST_TEST(std::count(windows.begin(), windows.end(), '\n') == learned + 1);
  BOOST_TEST(read_text(dir / "run" / "stats-coverage.csv").find("seq,(all),") != std::string::npos);

  // --space naming a space without learned laws, and a stage that learned none.
  const auto other = run_narrow({"laws", (dir / "run").string(), "--space", "resnet"});
  BOOST_TEST(other.exit_code == 2);
  BOOST_TEST(other.err.find("--space 'resnet': no learned laws of that space (spaces: seq)") !=
                 std::string::npos,
             other.err);
  const auto sampled = run_narrow({"laws", (dir / "run").string(), "--stage", "sample"});
  BOOST_TEST(sampled.exit_code == 2);
  BOOST_TEST(sampled.err.find("stage 'sample' of") != std::string::npos, sampled.err);
}

BOOST_AUTO_TEST_CASE(spectral_clusters_the_nearest_search_before_it_by_default) {
  const fs::path dir = narrow::test::work_dir("learned_laws_nearest");
  std::ofstream(dir / "x.yaml")
      << "name: nearest\nseed: 1\nspaces:\n  - {name: seq, plugin: sequential}\n"
         "stages:\n"
         "  - {name: low, strategy: genetic_law,\n"
         "     parameters: {decades: [2, 3], n_init: 8, n_steps: 8, n_eval: 3, tournament: 4}}\n"
         "  - {name: high, strategy: genetic_law,\n"
         "     parameters: {decades: [4, 5], n_init: 8, n_steps: 8, n_eval: 3, tournament: 4}}\n"
         "  - {name: cluster, strategy: spectral, parameters: {k: 2}}\n";
  const auto r = run_narrow({"run", (dir / "x.yaml").string(), "--out", (dir / "run").string()});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const std::string db = (dir / "run" / "results.db").string();
  // Every law of `cluster` is of a window of `high` (1e4..1e5), none of `low` (1e2..1e3).
  BOOST_TEST(std::stoi(sql(db, "SELECT COUNT(*) FROM records WHERE kind='law' AND stage='cluster';")) > 0);
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM records WHERE kind='law' AND stage='cluster' AND "
                     "json_extract(data, '$.name') NOT LIKE 'seq.%e4-%';") == "0\n");
}

BOOST_AUTO_TEST_CASE(narrow_laws_refuses_what_it_cannot_write) {
  const fs::path dir = narrow::test::work_dir("learned_laws_bad");
  const auto none = run_narrow({"laws", (dir / "nothing").string()});
  BOOST_TEST(none.exit_code == 2);
  BOOST_TEST(none.err.find("does not exist") != std::string::npos, none.err);
  // A run that learned nothing.
  std::ofstream(dir / "x.yaml") << "name: plain\nseed: 1\nspaces:\n  - {plugin: sequential}\n"
                                   "stages:\n  - {name: s, strategy: random, parameters: {per_law: 2}}\n";
  BOOST_TEST_REQUIRE(run_narrow({"run", (dir / "x.yaml").string(), "--out", (dir / "run").string()}).exit_code == 0);
  const auto empty = run_narrow({"laws", (dir / "run").string()});
  BOOST_TEST(empty.exit_code == 2);
  BOOST_TEST(empty.err.find("holds no learned laws") != std::string::npos, empty.err);
}
