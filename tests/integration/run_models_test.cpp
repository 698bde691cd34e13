#define BOOST_TEST_MODULE run_models
// A training two runs share shows, in each run's report and query, the formats that run's own
// precision stage evaluated: the model table filters evaluations by the run's units, not by
// the training they evaluated.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/run.hpp"
#include "support/sqlite.hpp"
#include "support/text.hpp"

namespace fs = std::filesystem;
using narrow::test::read_text;
using narrow::test::run_narrow;
using narrow::test::sql;
using narrow::test::work_dir;

namespace {

// One tiny training evaluated in half and int8; the variant evaluates it in half only, and
// shares the sampling, the training and the half evaluation with the experiment.
const char* experiment = R"(name: run_models
seeds: [3]
dataset: {name: synthetic, parameters: {channels: 1, height: 8, width: 8, classes: 4, train: 240, test: 60}}
spaces:
  - {name: seq, plugin: sequential, parameters: {input: [1, 8, 8], classes: 4, max_conv_layers: 1, max_fc_layers: 0}}
formats: [half, int8]
stages:
  - {name: sample, strategy: random, parameters: {per_law: 5}}
  - {name: train, strategy: train, parameters: {select: best, count: 1, metric: params, epochs: 1}}
  - {name: precision, strategy: precision}
ablation:
  - {name: half_only, set: {formats: [half]}}
)";

// The formats column of Figure 5's table of the report of one run.
std::string formats_of(const fs::path& out, const std::string& run) {
  const auto dir = out / ("report-" + (run.empty() ? std::string("base") : run));
  const auto r = run_narrow({"report", out.string(), "--out", dir.string(), "--only", run});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::istringstream csv(read_text(dir / "fig5_accuracy_memory.csv"));
  std::string line, formats;
  std::getline(csv, line);  // header: training,hash,reference,format,...
  while (std::getline(csv, line)) {
    std::istringstream fields(line);
    std::string field;
    for (int i = 0; i < 4; ++i) std::getline(fields, field, ',');
    formats += field + " ";
  }
  return formats;
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_run_shows_the_formats_it_evaluated) {
  const auto work = work_dir("run_models");
  const auto file = work / "run_models.yaml";
  std::ofstream(file) << experiment;
  const auto out = work / "out";
  const auto r = run_narrow({"run", file.string(), "--out", out.string(), "--jobs", "1",
                             "--torch-threads", "1"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const auto db = (out / "results.db").string();
  // One training, used by both runs; int8 evaluated by the experiment only.
  BOOST_TEST(sql(db, "SELECT count(*) FROM trainings;") == "1\n");
  BOOST_TEST(sql(db, "SELECT count(DISTINCT run) FROM uses u JOIN trainings t ON t.key = u.unit;") ==
             "2\n");
  BOOST_TEST(sql(db, "SELECT count(*) FROM precisions WHERE format = 'int8';") != "0\n");

  BOOST_TEST(formats_of(out, "") == "float32 half int8 ");
  BOOST_TEST(formats_of(out, "half_only@3") == "float32 half ");
}
