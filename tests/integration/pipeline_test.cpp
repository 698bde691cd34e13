#define BOOST_TEST_MODULE pipeline
// The Scheidegger pipeline at the size of the suite (experiments/smoke/scheidegger.yaml): learned
// laws, the wave, shrunk references and the precision stage under two seeds, with the uniform
// law as an ablation variant, then `narrow report`: its ablation table agrees with the store
// read independently with SQL, and its summary says where the search stands.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "support/run.hpp"
#include "support/sqlite.hpp"
#include "support/text.hpp"

namespace fs = std::filesystem;
using narrow::test::build_dir;
using narrow::test::read_text;
using narrow::test::run_narrow;
using narrow::test::source_dir;
using narrow::test::sql;
using nlohmann::json;

namespace {

struct Pipeline {
  fs::path dir = fs::path(build_dir()) / "tests" / "pipeline";
  std::string out = (dir / "run").string(), db = out + "/results.db";
  Pipeline() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto r = run_narrow({"run",
                         (fs::path(source_dir()) / "experiments" / "smoke" / "scheidegger.yaml")
                             .string(),
                         "--out", out});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }
};

// The search's best model of run `run` within `budget` bytes, by SQL alone: the trainings the
// run used that no train.reference record names, whose float32 weight bytes (the precision
// stage's float32 evaluation when there is one, else the architecture's) fit, the highest
// validation accuracy first, then the fewest bytes; "TEST_PCT|PARAMS", or "" when none fits.
// (For a model the precision stage did not evaluate, the architecture's bytes count batch norm
// unfolded, a little above the folded count the report uses; no model of this run lies between
// the two at the budgets below.)
std::string best_search(const std::string& db, const std::string& run, int budget) {
  const std::string bytes =
      "coalesce((SELECT p.weight_bytes FROM precisions p WHERE p.training = t.key AND "
      "p.format = 'float32' LIMIT 1), a.weight_bytes)";
  return sql(db,
             "SELECT 100.0 * t.test_accuracy, a.params FROM trainings t JOIN uses u ON "
             "u.unit = t.key JOIN architectures a ON a.hash = t.hash WHERE u.run = '" + run +
             "' AND t.status = 'ok' AND t.key NOT IN (SELECT json_extract(data, '$.training') "
             "FROM records WHERE kind = 'train.reference') AND " + bytes + " <= " +
             std::to_string(budget) + " ORDER BY t.val_accuracy DESC, " + bytes +
             ", t.hash LIMIT 1;");
}

// An ablation table's row of a variant at `budget` against the best models of its two runs
// (seeds 1 and 2) read with SQL: mean and sample standard deviation of their test accuracy,
// mean of their parameters (which tells apart two models of equal accuracy).
void check_ablation_row(const json& row, const std::string& db, int budget) {
  const std::string variant = row["variant"];
  BOOST_TEST_CONTEXT("variant " << variant << " at " << budget << " bytes") {
    BOOST_TEST(row["budget_bytes"] == budget);
    BOOST_TEST(row["seeds"] == 2);
    double pct[2], params[2];
    const std::string runs[2] = {variant == "base" ? "" : variant + "@1", variant + "@2"};
    for (int i = 0; i < 2; ++i) {
      const std::string best = best_search(db, runs[i], budget);
      BOOST_REQUIRE_MESSAGE(!best.empty(), "no model of run '" << runs[i] << "' fits");
      pct[i] = std::stod(best.substr(0, best.find('|')));
      params[i] = std::stod(best.substr(best.find('|') + 1));
    }
    BOOST_TEST(row["search_test_pct_mean"].get<double>() == (pct[0] + pct[1]) / 2,
               boost::test_tools::tolerance(1e-9));
    BOOST_TEST(row["search_test_pct_sd"].get<double>() ==
                   std::abs(pct[0] - pct[1]) / std::sqrt(2.0),
               boost::test_tools::tolerance(1e-9));
    BOOST_TEST(row["params_mean"].get<double>() == (params[0] + params[1]) / 2,
               boost::test_tools::tolerance(1e-9));
    BOOST_TEST(row["trainings_mean"].get<double>() > 0);
  }
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(the_report_compares_variants_seeds_and_references, Pipeline) {
  BOOST_TEST(sql(db, "SELECT id FROM runs ORDER BY rowid;") == "\nuniform@1\nbase@2\nuniform@2\n");
  // The variant reuses the law search and the clustering, and the shrunk references: it stores
  // none of their units, and at each seed its stages used exactly the experiment's units (the
  // references' trainings included, so that they are among the variant's models too).
  for (const std::string stage : {"laws", "cluster", "references"}) {
    BOOST_TEST(sql(db, "SELECT count(*) FROM units WHERE stage = 'uniform@1/" + stage + "';") ==
                   "0\n",
               stage);
    for (const auto& [base, variant] : {std::pair<std::string, std::string>{"", "uniform@1"},
                                        {"base@2", "uniform@2"}}) {
      const auto used = [&](const std::string& run) {
        return sql(db, "SELECT unit FROM uses WHERE run = '" + run + "' AND stage = '" + stage +
                           "' ORDER BY unit;");
      };
      BOOST_TEST(!used(base).empty(), "stage " << stage << " of run '" << base << "' used no unit");
      BOOST_TEST(used(variant) == used(base), "stage " << stage << " of run " << variant
                                                       << " used other units than run '" << base
                                                       << "':\n" << used(variant) << "against\n"
                                                       << used(base));
    }
  }

  const std::string report = (dir / "report").string();
  auto r = run_narrow({"report", out, "--out", report});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.find("Within 4 KiB of float32 weights, the search's best model scores") !=
                 std::string::npos,
             r.out);
  const json listing = json::parse(read_text(fs::path(report) / "report.json"));
  BOOST_TEST(listing["summary"].size() == 1u);
  BOOST_TEST(read_text(fs::path(report) / "index.html").find("Where the search stands") !=
             std::string::npos);

  const json ablation = json::parse(read_text(fs::path(report) / "ablation.json"));
  BOOST_REQUIRE(ablation.size() == 2u);  // base and uniform at the one budget, 4 KiB
  for (const auto& row : ablation) check_ablation_row(row, db, 4096);
  // At 64 KiB two models of a run fit, of equal test accuracy in one run: the choice on
  // validation accuracy shows in the parameters.
  const std::string wide = (dir / "report_64k").string();
  auto w = run_narrow({"report", out, "--out", wide, "--budgets", "64KiB"});
  BOOST_REQUIRE_MESSAGE(w.exit_code == 0, w.err);
  const json wide_ablation = json::parse(read_text(fs::path(wide) / "ablation.json"));
  BOOST_REQUIRE(wide_ablation.size() == 2u);
  for (const auto& row : wide_ablation) check_ablation_row(row, db, 65536);
  // The references: fig1 shrunk to 4 KiB under both seeds; ds_cnn too.
  const json refs = json::parse(read_text(fs::path(report) / "references.json"));
  BOOST_REQUIRE(refs.size() == 2u);
  for (const auto& ref : refs) BOOST_TEST(ref["seeds"] == 2);
  const double best_ref = std::max(refs[0]["test_pct_mean"].get<double>(),
                                   refs[1]["test_pct_mean"].get<double>());
  BOOST_TEST(ablation[0]["search_minus_reference_points"].get<double>() ==
                 ablation[0]["search_test_pct_mean"].get<double>() - best_ref,
             boost::test_tools::tolerance(1e-9));

  // One run's figures; a run that is not there, and bad budgets, are refused in one line.
  auto only = run_narrow({"report", out, "--out", (dir / "only").string(), "--only", "uniform@2"});
  BOOST_REQUIRE_MESSAGE(only.exit_code == 0, only.err);
  const json models = json::parse(read_text(dir / "only" / "models.json"));
  BOOST_TEST(models.size() == std::stoul(sql(db, "SELECT count(*) FROM uses u JOIN trainings t "
                                                 "ON t.key = u.unit WHERE u.run = 'uniform@2';")));
  auto bogus = run_narrow({"report", out, "--out", (dir / "x").string(), "--only", "nope@3"});
  BOOST_TEST(bogus.exit_code == 2);
  BOOST_TEST(bogus.err == "narrow report: error: --only: 'nope@3' is not a run of " + db +
                              " (runs: '', uniform@1, base@2, uniform@2)\n");
  auto budgets = run_narrow({"report", out, "--out", (dir / "x").string(), "--budgets", "4KiB,2ms"});
  BOOST_TEST(budgets.exit_code == 2);
  BOOST_TEST(budgets.err == "narrow report: error: --budgets: '2ms' is a time, not a size "
                            "(write a list like 4KiB,16KiB)\n");

  // One run's learned laws and models: `narrow laws --only` and `narrow query --only` read
  // what that run's stages used, by SQL the law records of its clustering stage.
  for (const std::string run : {"", "base@2"}) {
    auto laws = run_narrow({"laws", out, "--stage", "cluster", "--only", run, "--json"});
    BOOST_REQUIRE_MESSAGE(laws.exit_code == 0, laws.err);
    BOOST_TEST(json::parse(laws.out).size() ==
               std::stoul(sql(db, "SELECT count(*) FROM records r JOIN uses u ON u.unit = r.unit "
                                  "WHERE r.kind = 'law' AND u.run = '" + run +
                                  "' AND u.stage = 'cluster';")));
  }
  const auto base_laws = run_narrow({"laws", out, "--stage", "cluster", "--only", "", "--json"});
  BOOST_TEST(!json::parse(base_laws.out).empty());
  BOOST_TEST(base_laws.out !=
             run_narrow({"laws", out, "--stage", "cluster", "--only", "base@2", "--json"}).out);
  auto query = run_narrow({"query", out, "--only", "uniform@2", "--json"});
  BOOST_REQUIRE_MESSAGE(query.exit_code == 0, query.err);
  const json best = json::parse(query.out)["model"];
  BOOST_TEST(sql(db, "SELECT count(*) FROM uses WHERE run = 'uniform@2' AND unit = '" +
                         best["training"].get<std::string>() + "';") == "1\n");
  // Its stage and space as the experiment names them, whichever run trained it (a run's
  // rows carry the stage qualified by the run: base@2/train).
  BOOST_TEST(best["stage"].get<std::string>() + "\n" ==
             sql(db, "SELECT stage FROM uses WHERE run = 'uniform@2' AND unit = '" +
                         best["training"].get<std::string>() + "';"));
  BOOST_TEST(!best["stage"].get<std::string>().empty());
  BOOST_TEST(!best["space"].get<std::string>().empty());
  auto nope = run_narrow({"laws", out, "--only", "nope@3"});
  BOOST_TEST(nope.exit_code == 2);
  BOOST_TEST(nope.err == "narrow laws: error: --only: 'nope@3' is not a run of " + db +
                             " (runs: '', uniform@1, base@2, uniform@2)\n");
}
