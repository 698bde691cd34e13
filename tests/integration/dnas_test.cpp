#define BOOST_TEST_MODULE dnas
// The dnas strategy end to end on experiments/smoke/dnas.yaml (ResNet-8 on 600 Fashion-MNIST
// images, real trainings): the four trainings stored (warm-up, baseline, search under its
// export, fine-tuning), every target met by the export, the export stored with the kernel's
// metrics, and a run killed with SIGKILL in each phase that resumes to the same result
// without redoing what was stored.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/process.hpp>
#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/metrics.hpp"
#include "support/run.hpp"
#include "support/sqlite.hpp"

namespace fs = std::filesystem;
using narrow::test::build_dir;
using narrow::test::run_narrow;
using narrow::test::source_dir;
using narrow::test::sql;
using nlohmann::json;

namespace {

const std::string experiment =
    (fs::path(source_dir()) / "experiments" / "smoke" / "dnas.yaml").string();

json result_record(const std::string& db) {
  const std::string text = sql(db, "SELECT data FROM records WHERE kind = 'dnas.result';");
  BOOST_REQUIRE_MESSAGE(!text.empty(), "no dnas.result record in " << db);
  return json::parse(text);
}

/// What the same seed must reproduce: the export, its costs and the accuracies.
json deterministic(const json& r) {
  json targets = json::array();
  for (const auto& t : r["targets"]) targets.push_back({t["metric"], t["target"], t["exported"]});
  return json{{"exported", r["exported"]},
              {"targets", targets},
              {"groups", r["groups"]},
              {"model", r["model"]["test_accuracy"]},
              {"baseline", r["baseline"]["test_accuracy"]},
              {"warmup", r["warmup"]["test_accuracy"]}};
}

int trainings(const std::string& db) {
  return std::atoi(sql(db, "SELECT COUNT(*) FROM units WHERE kind = 'training';").c_str());
}

struct Smoke {
  fs::path dir = fs::path(build_dir()) / "tests" / "dnas";
  std::string out = (dir / "full").string();
  std::string db = out + "/results.db";
  Smoke() {
    static bool done = false;
    if (done) return;
    fs::remove_all(dir);
    auto r = run_narrow({"run", experiment, "--out", out, "--jobs", "2", "--torch-threads", "1"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    done = true;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(smoke, Smoke)

BOOST_AUTO_TEST_CASE(every_target_is_met_by_the_export) {
  const json r = result_record(db);
  BOOST_TEST(r["met"].get<bool>());
  BOOST_REQUIRE(r["targets"].size() == 2u);
  for (const auto& t : r["targets"]) {
    BOOST_TEST(t["exported"].get<double>() <= t["target"].get<double>());
    BOOST_TEST(t["target"].get<double>() < t["seed"].get<double>());
  }
  // 20 % of the seed's int8 deployed bytes, half its predicted latency.
  BOOST_TEST(std::abs(r["targets"][0]["target"].get<double>() -
                      0.2 * r["targets"][0]["seed"].get<double>()) < 1e-6);
  BOOST_TEST(std::abs(r["targets"][1]["target"].get<double>() -
                      0.5 * r["targets"][1]["seed"].get<double>()) < 1e-12);
}

BOOST_AUTO_TEST_CASE(each_phase_is_a_stored_training) {
  const json r = result_record(db);
  BOOST_TEST(trainings(db) == 4);
  const std::string seed = r["seed"], exported = r["exported"];
  BOOST_TEST(seed != exported);
  auto hash_of = [&](const json& phase) {
    return sql(db, "SELECT hash FROM trainings WHERE key = '" + phase["key"].get<std::string>() +
                       "';");
  };
  BOOST_TEST(hash_of(r["warmup"]) == seed + "\n");
  BOOST_TEST(hash_of(r["baseline"]) == seed + "\n");
  BOOST_TEST(hash_of(r["search"]) == exported + "\n");
  BOOST_TEST(hash_of(r["finetune"]) == exported + "\n");
  // The baseline trains as many epochs as warm-up, search and fine-tuning together.
  BOOST_TEST(r["baseline"]["epochs"].get<int>() == 1 + 4 + 1);
  // The search's history has one entry per epoch, with the penalty weights of the ramp.
  const json details = json::parse(sql(
      db, "SELECT json_extract(result, '$.details') FROM units WHERE key = '" +
              r["search"]["key"].get<std::string>() + "';"));
  BOOST_REQUIRE(details["history"].size() == 4u);
  BOOST_TEST(details["history"][0]["lambda"][0].get<double>() == 0.02);
  BOOST_TEST(details["history"][3]["lambda"][0].get<double>() == 2.0);
}

BOOST_AUTO_TEST_CASE(the_export_is_stored_with_the_kernels_metrics) {
  const json r = result_record(db);
  const std::string exported = r["exported"];
  const std::string text = sql(db, "SELECT json FROM architectures WHERE hash = '" + exported + "';");
  const auto arch = narrow::Architecture::from_json_string(text);
  BOOST_TEST(arch.hash() == exported);
  const auto m = narrow::analyse(arch);
  BOOST_TEST(sql(db, "SELECT params FROM architectures WHERE hash = '" + exported + "';") ==
             std::to_string(m.params) + "\n");
  // The groups' kept channels are the export's widths.
  for (const auto& g : r["groups"])
    for (const auto& id : g["layers"])
      BOOST_TEST(arch.layers()[arch.index_of(id.get<std::string>())].out_channels ==
                 g["kept"].get<std::int64_t>());
}

BOOST_AUTO_TEST_CASE(the_report_has_the_search_table) {
  const std::string report = (dir / "report").string();
  auto r = run_narrow({"report", out, "--out", report});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::ifstream in(report + "/dnas_searches.json");
  BOOST_REQUIRE(in);
  const json rows = json::parse(in);
  BOOST_REQUIRE(rows.size() == 1u);
  const json record = result_record(db);
  BOOST_TEST(rows[0]["seed_model"] == "resnet8");
  BOOST_TEST(rows[0]["met"] == "yes");
  BOOST_TEST(rows[0]["worst_vs_target_pct"].get<double>() <= 0.0);
  BOOST_TEST(std::abs(rows[0]["test_accuracy"].get<double>() -
                      100 * record["model"]["test_accuracy"].get<double>()) < 1e-9);
  BOOST_TEST(rows[0]["search_epoch_vs_training_epoch"].get<double>() > 0.0);
  const std::string said = r.out + r.err;
  BOOST_TEST(said.find("base dnas (resnet8): the export meets every target") != std::string::npos,
             said);
}

BOOST_AUTO_TEST_CASE(a_run_killed_in_each_phase_resumes_to_the_same_result) {
  const json expected = deterministic(result_record(db));
  namespace bp = boost::process;
  // Killed during the warm-up (no training stored), the search (two stored) and the
  // fine-tuning (three stored).
  for (int phase_start : {0, 2, 3}) {
    BOOST_TEST_CONTEXT("killed with " << phase_start << " trainings stored") {
      const std::string killed = (dir / ("killed" + std::to_string(phase_start))).string();
      const std::string killed_db = killed + "/results.db";
      bp::child child(narrow::test::env("NARROW_EXE"),
                      bp::args({"run", experiment, "--out", killed, "--jobs", "2",
                                "--torch-threads", "1"}),
                      bp::std_out > bp::null, bp::std_err > bp::null);
      int stored = -1;
      for (int i = 0; i < 40000 && child.running(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (!fs::exists(killed_db)) continue;
        stored = trainings(killed_db);
        if (stored >= phase_start) break;
      }
      if (phase_start == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
      BOOST_REQUIRE_MESSAGE(child.running(), "the run finished before it could be killed");
      ::kill(child.id(), SIGKILL);
      child.wait();
      stored = trainings(killed_db);
      BOOST_TEST(stored == phase_start);
      const std::string before =
          sql(killed_db, "SELECT key || finished_at FROM units WHERE kind = 'training';");
      auto r = run_narrow({"run", experiment, "--out", killed, "--resume", "--jobs", "2",
                           "--torch-threads", "1"});
      BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
      const std::string after =
          sql(killed_db, "SELECT key || finished_at FROM units WHERE kind = 'training';");
      std::istringstream lines(before);
      for (std::string line; std::getline(lines, line);)
        BOOST_TEST(after.find(line + "\n") != std::string::npos, "redone: " << line);
      BOOST_TEST(deterministic(result_record(killed_db)) == expected);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
