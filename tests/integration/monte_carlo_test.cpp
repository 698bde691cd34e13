#define BOOST_TEST_MODULE monte_carlo
// The monte_carlo strategy end to end on experiments/smoke/monte_carlo.yaml (real trainings on
// 300 images): every sample stored with its phase, parent, move and J, each within the
// experiment's bounds and the bounds of the earlier search, traction and full budgets as set,
// the accepted model the best fully trained J, the asynchronous variant on two workers, and a
// run killed with SIGKILL that resumes to the same samples.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/process.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/run.hpp"
#include "support/sqlite.hpp"
#include "support/text.hpp"

namespace fs = std::filesystem;
using narrow::test::build_dir;
using narrow::test::run_narrow;
using narrow::test::source_dir;
using narrow::test::sql;
using nlohmann::json;

namespace {

const std::string experiment =
    (fs::path(source_dir()) / "experiments" / "smoke" / "monte_carlo.yaml").string();

// The records of `kind` of a stored stage ("search", "async@1/search"), in the order written.
std::vector<json> records(const std::string& db, const std::string& kind,
                          const std::string& stage) {
  std::vector<json> out;
  std::istringstream lines(sql(db, "SELECT data FROM records WHERE kind = '" + kind +
                                       "' AND stage = '" + stage + "' ORDER BY rowid;"));
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// The samples of a stage by index.
std::map<int, json> samples(const std::string& db, const std::string& stage) {
  std::map<int, json> out;
  for (auto& r : records(db, "monte_carlo.sample", stage)) out[r["index"].get<int>()] = r;
  return out;
}

struct Smoke {
  fs::path dir = fs::path(build_dir()) / "tests" / "monte_carlo";
  std::string out = (dir / "run").string(), db = out + "/results.db";
  Smoke() {
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto r = run_narrow({"run", experiment, "--out", out, "--jobs", "2", "--threads", "2"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }
};

void check_search(const std::string& db, const std::string& stage, int random, int traction,
                  int full, const json& bounds, double beta) {
  BOOST_TEST_CONTEXT("stage " << stage) {
    const auto s = samples(db, stage);
    BOOST_REQUIRE(int(s.size()) == random + traction + full);
    const auto result = records(db, "monte_carlo.result", stage);
    BOOST_REQUIRE(result.size() == 1u);
    double best_full = INFINITY;
    for (const auto& [k, x] : s) {
      BOOST_TEST_CONTEXT("sample " << k) {
        const std::string phase = x["phase"];
        BOOST_TEST(phase == (k < random ? "random" : k < random + traction ? "traction" : "full"));
        // Draws in the random phase; moves from an earlier sample after it.
        if (k < random) BOOST_TEST(x["parent"] == -1);
        if (x["parent"] != -1) BOOST_TEST(x["parent"].get<int>() < k);
        // Within every bound, the experiment's and the earlier search's.
        for (const auto& [metric, max] : bounds.items())
          BOOST_TEST(x["metrics"][metric].get<double>() <= max.get<double>());
        // J = validation loss + beta params.
        if (x["status"] == "ok") {
          BOOST_TEST(x["objective"].get<double>() ==
                         x["val_loss"].get<double>() + beta * x["metrics"]["params"].get<double>(),
                     boost::test_tools::tolerance(1e-9));
          if (phase == "full") best_full = std::min(best_full, x["objective"].get<double>());
        }
        // The training it names, with the budget of its phase: 3 batches, or one epoch.
        const std::string training = x["training"];
        const std::string row = sql(db, "SELECT hash || ' ' || iterations || ' ' || epochs FROM "
                                        "trainings WHERE key = '" + training + "';");
        std::istringstream in(row);
        std::string hash;
        long iterations = 0, epochs = 0;
        in >> hash >> iterations >> epochs;
        BOOST_TEST(hash == x["architecture_hash"].get<std::string>());
        if (phase == "full")
          BOOST_TEST(epochs == 1);
        else
          BOOST_TEST(iterations == 3);
      }
    }
    // The accepted model is the fully trained sample with the lowest J.
    BOOST_TEST(result[0]["accepted"]["objective"].get<double>() == best_full);
    BOOST_TEST(s.at(result[0]["accepted"]["index"].get<int>())["phase"] == "full");
  }
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(smoke, Smoke)

BOOST_AUTO_TEST_CASE(every_sample_is_stored_within_its_bounds) {
  const json experiment_bounds{{"weight_bytes", 65536}};
  check_search(db, "search", 4, 4, 2, experiment_bounds, 0.0);
  check_search(db, "async@1/search", 4, 4, 2, experiment_bounds, 0.0);
  // The second search: half of the first one's accepted memory (eq. 6) and FLOPs.
  for (const std::string run : {"", "async@1/"}) {
    const auto first = records(db, "monte_carlo.result", run + "search").at(0)["accepted"];
    json bounds = experiment_bounds;
    bounds["memory_eq6_bytes"] = std::floor(0.5 * first["metrics"]["memory_eq6_bytes"].get<double>());
    bounds["flops"] = std::floor(0.5 * first["metrics"]["flops"].get<double>());
    check_search(db, run + "half", 3, 3, 1, bounds, 5e-5);
    const auto stored = records(db, "monte_carlo.result", run + "half").at(0)["bounds"];
    BOOST_TEST(stored.size() == 3u);
  }
  // The ensemble of the first search: of its two fully trained samples, the best by J, and
  // the other when the two together keep the weight bound; their metrics summed.
  for (const std::string run : {"", "async@1/"}) {
    const auto e = records(db, "monte_carlo.ensemble", run + "search");
    BOOST_REQUIRE(e.size() == 1u);
    BOOST_TEST(e[0]["vote"] == "mean");
    const auto s = samples(db, run + "search");
    const auto& members = e[0]["members"];
    double both = 0, best = INFINITY;
    int best_index = -1;
    for (const auto& [k, x] : s)
      if (x["phase"] == "full") {
        both += x["metrics"]["weight_bytes"].get<double>();
        if (x["objective"].get<double>() < best) {
          best = x["objective"].get<double>();
          best_index = k;
        }
      }
    BOOST_REQUIRE(members.size() == (both <= 65536 ? 2u : 1u));
    BOOST_TEST(members[0]["index"].get<int>() == best_index);
    BOOST_TEST(e[0]["metrics"]["weight_bytes"].get<double>() <= 65536);
    for (const std::string metric : {"params", "flops", "memory_eq6_bytes"}) {
      double sum = 0;
      for (const auto& m : members) {
        const auto& x = s.at(m["index"].get<int>());
        BOOST_TEST(x["phase"] == "full");
        BOOST_TEST(m["training"] == x["training"]);
        sum += x["metrics"][metric].get<double>();
      }
      BOOST_TEST(e[0]["metrics"][metric].get<double>() == sum);
    }
    BOOST_TEST(e[0]["test_accuracy"].get<double>() >= 0.0);
    BOOST_TEST(e[0]["test_accuracy"].get<double>() <= 1.0);
  }
  // The synchronous search and the asynchronous one share their random draws.
  const auto sync = samples(db, "search"), async = samples(db, "async@1/search");
  for (int k = 0; k < 4; ++k)
    BOOST_TEST(sync.at(k)["training"] == async.at(k)["training"]);
}

// `narrow report` lays the searches out as Chan et al.'s Tables 1 and 2; its values agree with
// the result records read with SQL.
BOOST_AUTO_TEST_CASE(the_report_has_the_tables_of_the_paper) {
  const std::string report = out + "/report";
  auto r = run_narrow({"report", out, "--out", report});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json variants = json::parse(narrow::test::read_text(report + "/monte_carlo_variants.json"));
  const json bounds = json::parse(narrow::test::read_text(report + "/monte_carlo_bounds.json"));
  // Table 1: base and async, each with its two searches, the unbounded first.
  BOOST_REQUIRE(variants.size() == 4u);
  const std::pair<const char*, const char*> expected[] = {
      {"base", "search"}, {"base", "half"}, {"async", "search"}, {"async", "half"}};
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& row = variants[i];
    BOOST_TEST(row["variant"] == expected[i].first);
    BOOST_TEST(row["stage"] == expected[i].second);
    const std::string run = row["variant"] == "base" ? "" : "async@1/";
    const auto result = records(db, "monte_carlo.result", run + row["stage"].get<std::string>());
    const auto& a = result.at(0)["accepted"];
    BOOST_TEST(row["seeds"] == 1);
    BOOST_TEST(row["test_pct_mean"].get<double>() == 100 * a["test_accuracy"].get<double>(),
               boost::test_tools::tolerance(1e-9));
    BOOST_TEST(row["params_mean"].get<double>() == a["metrics"]["params"].get<double>());
    BOOST_TEST(row["flops_mean"].get<double>() == a["metrics"]["flops"].get<double>());
    if (row["stage"] == "search") {
      const auto e = records(db, "monte_carlo.ensemble", run + "search").at(0);
      BOOST_TEST(row["ensemble_members"] == e["members"].size());
      BOOST_TEST(row["ensemble_test_pct_mean"].get<double>() ==
                     100 * e["test_accuracy"].get<double>(),
                 boost::test_tools::tolerance(1e-9));
    } else {
      BOOST_TEST(row["ensemble_members"].is_null());
    }
  }
  BOOST_TEST(variants[2]["workers"] == 2);
  // Table 2: per run, the unbounded search at 100 % and the bounded one at 50 %, with the
  // actual fractions of memory and FLOPs; two runs whose searches accepted the same model share
  // their rows.
  std::set<std::string> distinct;
  for (const std::string run : {"", "async@1/"})
    for (const std::string stage : {"search", "half"})
      distinct.insert(stage + records(db, "monte_carlo.result", run + stage)
                                  .at(0)["accepted"]["training"]
                                  .get<std::string>());
  BOOST_REQUIRE(bounds.size() == distinct.size());
  for (const auto& row : bounds) {
    const std::string run = row["variant"] == "base" ? "" : "async@1/";
    const json unbounded = records(db, "monte_carlo.result", run + "search").at(0)["accepted"];
    const json a =
        records(db, "monte_carlo.result", run + row["stage"].get<std::string>()).at(0)["accepted"];
    BOOST_TEST(row["target_pct"].get<double>() == (row["stage"] == "search" ? 100.0 : 50.0));
    BOOST_TEST(row["memory_pct"].get<double>() ==
                   100 * a["metrics"]["memory_eq6_bytes"].get<double>() /
                       unbounded["metrics"]["memory_eq6_bytes"].get<double>(),
               boost::test_tools::tolerance(1e-9));
    if (row["stage"] == "half") BOOST_TEST(row["flops_pct"].get<double>() <= 50.0);
    BOOST_TEST(row["loss_points"].get<double>() ==
                   100 * (unbounded["test_accuracy"].get<double>() - a["test_accuracy"].get<double>()),
               boost::test_tools::tolerance(1e-9));
  }
  BOOST_TEST((r.out + r.err).find("Monte Carlo bounded to 50 %") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(a_killed_search_resumes_to_the_same_samples) {
  const fs::path dir = fs::path(build_dir()) / "tests" / "monte_carlo_resume";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string full = (dir / "full").string(), killed = (dir / "killed").string();
  // Two trainings at once, one LibTorch thread each: results depend on neither the order in
  // which trainings end nor on the kill.
  auto a = run_narrow({"run", experiment, "--out", full, "--jobs", "2", "--torch-threads", "1"});
  BOOST_REQUIRE_MESSAGE(a.exit_code == 0, a.err);

  namespace bp = boost::process;
  const std::string killed_db = killed + "/results.db";
  bp::child child(narrow::test::env("NARROW_EXE"),
                  bp::args({"run", experiment, "--out", killed, "--jobs", "2", "--torch-threads",
                            "1"}),
                  bp::std_out > bp::null, bp::std_err > bp::null);
  int stored = 0;
  for (int i = 0; i < 20000 && child.running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!fs::exists(killed_db)) continue;
    stored = std::atoi(
        sql(killed_db, "SELECT COUNT(*) FROM records WHERE kind = 'monte_carlo.sample';").c_str());
    if (stored >= 6) break;
  }
  BOOST_REQUIRE_MESSAGE(child.running(), "the run finished before it could be killed");
  ::kill(child.id(), SIGKILL);
  child.wait();
  BOOST_TEST_MESSAGE("killed after " << stored << " samples");

  const std::string trained_before =
      sql(killed_db, "SELECT key || finished_at FROM units WHERE kind = 'training' ORDER BY key;");
  auto r = run_narrow({"run", experiment, "--out", killed, "--resume", "--jobs", "2",
                       "--torch-threads", "1"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  // The trainings stored before the kill were not redone.
  const std::string after =
      sql(killed_db, "SELECT key || finished_at FROM units WHERE kind = 'training' ORDER BY key;");
  std::istringstream lines(trained_before);
  int kept = 0;
  for (std::string line; std::getline(lines, line);) {
    BOOST_TEST(after.find(line + "\n") != std::string::npos);
    ++kept;
  }
  BOOST_TEST(kept >= 1);
  for (const std::string stage : {"search", "half", "async@1/search", "async@1/half"}) {
    BOOST_TEST_CONTEXT("stage " << stage) {
      const auto x = samples(full + "/results.db", stage), y = samples(killed_db, stage);
      BOOST_TEST(x.size() == y.size());
      for (const auto& [k, s] : x) BOOST_TEST(y.at(k) == s);
    }
  }
}

// The variants of Chan et al. Table 1 under two seeds (experiments/smoke/chan_variants.yaml):
// the report's table gives each variant's mean and spread over its runs' accepted models; the
// random-only variant draws every sample; each ensemble's summed memory keeps the bound.
BOOST_AUTO_TEST_CASE(the_variants_of_table_1_under_two_seeds) {
  const fs::path dir = fs::path(build_dir()) / "tests" / "monte_carlo_variants";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string out = (dir / "run").string(), db = out + "/results.db";
  auto r = run_narrow({"run",
                       (fs::path(source_dir()) / "experiments" / "smoke" / "chan_variants.yaml")
                           .string(),
                       "--out", out, "--jobs", "2"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  r = run_narrow({"report", out, "--out", out + "/report"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json table =
      json::parse(narrow::test::read_text(out + "/report/monte_carlo_variants.json"));
  BOOST_REQUIRE(table.size() == 4u);
  for (const auto& row : table) {
    const std::string variant = row["variant"];
    BOOST_TEST_CONTEXT("variant " << variant) {
      BOOST_TEST(row["seeds"] == 2);
      double pct[2];
      for (int seed = 1; seed <= 2; ++seed) {
        const std::string run =
            variant == "base" && seed == 1 ? "" : fmt::format("{}@{}/", variant, seed);
        const auto result = records(db, "monte_carlo.result", run + "search");
        BOOST_REQUIRE(result.size() == 1u);
        pct[seed - 1] = 100 * result[0]["accepted"]["test_accuracy"].get<double>();
        const auto e = records(db, "monte_carlo.ensemble", run + "search");
        BOOST_REQUIRE(e.size() == 1u);
        BOOST_TEST(e[0]["metrics"]["memory_eq6_bytes"].get<double>() <= 65536);
        for (const auto& [k, x] : samples(db, run + "search"))
          if (variant == "random_only") {
            BOOST_TEST(x["parent"] == -1);
            BOOST_TEST(x["move"] == "draw");
          }
      }
      BOOST_TEST(row["test_pct_mean"].get<double>() == (pct[0] + pct[1]) / 2,
                 boost::test_tools::tolerance(1e-9));
      BOOST_TEST(row["test_pct_sd"].get<double>() == std::abs(pct[0] - pct[1]) / std::sqrt(2.0),
                 boost::test_tools::tolerance(1e-9));
    }
  }
  BOOST_TEST(table[2]["dispatch"] == "batch");
  BOOST_TEST(table[2]["parents"] == 2);
  BOOST_TEST(table[3]["moves"] == "no");
}
