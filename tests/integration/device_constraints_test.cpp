#define BOOST_TEST_MODULE device_constraints
// Device constraints in experiments: `fits: device` bounds activations by the device's RAM and
// weights by its flash, and `latency` rejects draws whose predicted latency exceeds the bound.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/device.hpp"
#include "narrow/metrics.hpp"
#include "narrow/store.hpp"
#include "support/files.hpp"
#include "support/plugins.hpp"
#include "support/run.hpp"
#include "support/sqlite.hpp"

namespace fs = std::filesystem;
using narrow::test::run_narrow;
using narrow::test::work_dir;
using narrow::test::sql;
using Args = std::vector<std::string>;

namespace {

// Plain conv stacks for Fashion-MNIST-sized inputs, drawn uniformly: many are too large for
// a microcontroller, so every constraint has work to do.
const char* experiment = R"(name: device_constraints
seed: 5
device:
  name: analytic
  parameters: {preset: stm32f746}
spaces:
  - name: seq
    plugin: sequential
    parameters: {input: [1, 28, 28], classes: 10, max_conv_layers: 3, max_fc_layers: 1}
constraints:
  fits: device
  latency: 20ms
stages:
  - name: sample
    strategy: random
    parameters: {per_law: 200, max_rejections: 100000}
)";

}  // namespace

BOOST_AUTO_TEST_CASE(fits_device_and_predicted_latency_bound_the_accepted_draws) {
  BOOST_REQUIRE_MESSAGE(std::system("command -v sqlite3 >/dev/null") == 0,
                        "the sqlite3 shell is needed (scripts/setup.sh installs it)");
  const fs::path work = work_dir("device_constraints");
  const auto file = (work / "exp.yaml").string();
  std::ofstream(file) << experiment;

  // The resolved experiment keeps `fits: device`, not the bounds it stands for.
  auto v = run_narrow(Args{"validate", file});
  BOOST_REQUIRE_MESSAGE(v.exit_code == 0, v.err);
  BOOST_TEST(v.out.find("fits: device") != std::string::npos, v.out);

  const auto out = (work / "run").string();
  auto r = run_narrow(Args{"run", file, "--out", out});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const auto db = out + "/results.db";
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM draws WHERE status='accepted';") == "200\n");

  // The STM32F746 preset: 320 KiB of RAM, 1 MiB of flash.
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM draws WHERE reason LIKE 'activation_peak_bytes % > "
                     "device RAM (327680 bytes)';") != "0\n");
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM draws d JOIN architectures a USING (hash) WHERE "
                     "d.status='accepted' AND (a.activation_peak_bytes > 327680 OR "
                     "a.weight_bytes > 1048576);") == "0\n");

  // Latency rejections name the prediction, and each is above the bound.
  const std::string reasons =
      sql(db, "SELECT reason FROM draws WHERE reason LIKE 'latency %';");
  BOOST_REQUIRE_MESSAGE(!reasons.empty(), "no draw was rejected for its latency");
  std::istringstream lines(reasons);
  const std::regex form(R"(^latency ([0-9.]+)(ms|us|s) > 20ms \(predicted\)$)");
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    BOOST_REQUIRE_MESSAGE(std::regex_match(line, m, form), line);
    const double scale = m[2] == "s" ? 1 : m[2] == "ms" ? 1e-3 : 1e-6;
    BOOST_TEST(std::stod(m[1]) * scale > 0.02 * (1 - 1e-3), line);
  }

  // Every accepted architecture is predicted within the bound by the same device.
  const auto device =
      narrow::create_device(narrow::test::built_plugins(), "analytic", {{"preset", "stm32f746"}});
  auto store = narrow::Store::open(db);
  const auto accepted = store->accepted_architectures();
  BOOST_REQUIRE(accepted.size() == 200u);
  for (const auto& a : accepted) {
    const auto arch = narrow::Architecture::from_json_string(a.json);
    const auto t = device->predict(arch, narrow::analyse(arch));
    BOOST_REQUIRE(t.has_value());
    BOOST_TEST(*t <= 0.02, a.hash << " predicted " << *t << " s");
  }

  // A tighter bound rejects more for latency.
  const auto tight = (work / "tight").string();
  auto t = run_narrow(Args{"run", file, "--out", tight, "--set", "constraints.latency=5ms"});
  BOOST_REQUIRE_MESSAGE(t.exit_code == 0, t.err);
  const auto count = [&](const std::string& d) {
    return std::stoi(sql(d, "SELECT COUNT(*) FROM draws WHERE reason LIKE 'latency %';"));
  };
  BOOST_TEST(count(tight + "/results.db") > count(db));
}

namespace {

// Small conv stacks for 8x8 synthetic images: each trains in a fraction of a second.
const char* measured_experiment = R"(name: measured_latency
seed: 3
dataset:
  name: synthetic
  parameters: {channels: 1, height: 8, width: 8, classes: 4, train: 480, test: 120}
spaces:
  - name: seq
    plugin: sequential
    parameters: {input: [1, 8, 8], classes: 4, max_conv_layers: 2, max_fc_layers: 1}
    laws:
      small: {conv_layers: [1, 2], fc_layers: [0, 1], fc1.units: [4, 32],
              conv1.filters: [2, 16], conv2.filters: [2, 16],
              conv1.padding: [same, same], conv2.padding: [same, same],
              conv1.pool_h: [1, 2], conv1.pool_w: [1, 2], conv2.pool_h: [1, 1], conv2.pool_w: [1, 1]}
stages:
  - name: sample
    strategy: random
    parameters: {per_law: 40, batch: 10}
  - name: train
    strategy: train
    parameters: {select: best, count: 4, metric: macs, order: largest, epochs: 1,
                 batch_size: 32}
)";

}  // namespace

// A device whose measured latency is 1 ns per MAC and whose prediction is half of that
// (a test fixture: a law, not a clock, so that the outcome does not depend on the machine's
// load): sampling lets through architectures whose measured latency is over the bound, and
// the train stage, which measures what it selects, must train none of them.
BOOST_AUTO_TEST_CASE(train_stage_trains_only_what_meets_the_latency_bound_when_measured) {
  const fs::path work = work_dir("measured_latency");
  const double bound = 20e-6;  // 20,000 MACs measured, 40,000 predicted
  std::string text = measured_experiment;
  text.replace(text.find("stages:"), 0,
               fmt::format("plugins: [{}/devices]\n"
                           "device:\n  name: fixture_latency_law\n"
                           "constraints:\n  latency: {:.3f}us\n",
                           narrow::test::env("NARROW_FIXTURE_PLUGIN_DIR"), bound * 1e6));
  const auto file = (work / "exp.yaml").string();
  std::ofstream(file) << text;

  const auto out = (work / "run").string();
  auto r = run_narrow(Args{"run", file, "--out", out});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const double limit = bound;
  auto store = narrow::Store::open(out + "/results.db");
  std::map<std::string, double> measured;
  for (const auto& l : store->latencies("train")) {
    BOOST_TEST(l.measurement.threads == 1);
    BOOST_TEST(l.measurement.runs == 10);
    BOOST_TEST(l.device.find("\"fixture_latency_law\"") != std::string::npos, l.device);
    measured[l.architecture_hash] = l.measurement.mean;
  }
  // Four trained, each measured within the bound.
  const auto trainings = store->trainings("train");
  BOOST_TEST(trainings.size() == 4u);
  for (const auto& t : trainings) {
    BOOST_REQUIRE_MESSAGE(measured.count(t.architecture_hash), t.architecture_hash);
    BOOST_TEST(measured[t.architecture_hash] <= limit * (1 + 1e-9));
  }
  // The largest models were selected first and measured over the bound: none of them trained,
  // and each is named with its measured and predicted latency.
  const auto summary = nlohmann::json::parse(*store->meta("stage.train"));
  const auto& over = summary.at("latency").at("over_bound");
  BOOST_TEST(over.size() >= 1u, summary.dump());
  BOOST_TEST(measured.size() == trainings.size() + over.size());
  for (const auto& o : over) {
    const std::string hash = o.at("architecture_hash");
    BOOST_TEST(measured.at(hash) > limit);
    BOOST_TEST(o.at("predicted_s").get<double>() <= limit * (1 + 1e-9));
    for (const auto& t : trainings) BOOST_TEST(t.architecture_hash != hash);
    BOOST_TEST(r.err.find(hash.substr(0, 12) + " not trained: latency ") != std::string::npos,
               r.err);
  }
  BOOST_TEST(r.err.find("(measured), predicted") != std::string::npos, r.err);
  BOOST_TEST(summary.at("best").contains("latency_measured_s"));
  store.reset();

  // A resumed run measures nothing again.
  auto again = run_narrow(Args{"run", file, "--out", out, "--resume"});
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  BOOST_TEST(again.err.find(fmt::format("0 new, {} stored before", measured.size())) !=
                 std::string::npos,
             again.err);
  BOOST_TEST(sql(out + "/results.db", "SELECT COUNT(*) FROM latencies;") ==
             fmt::format("{}\n", measured.size()));

  // With measure_latency off, the prediction alone decides: the largest models train, those
  // the first selection found over the bound among them.
  const auto off = (work / "off").string();
  auto o = run_narrow(
      Args{"run", file, "--out", off, "--set", "stages.1.parameters.measure_latency=off"});
  BOOST_REQUIRE_MESSAGE(o.exit_code == 0, o.err);
  BOOST_TEST(sql(off + "/results.db", "SELECT COUNT(*) FROM latencies;") == "0\n");
  BOOST_TEST(sql(off + "/results.db", "SELECT COUNT(*) FROM trainings;") == "4\n");
  int trained_over = 0;
  for (const auto& x : over)
    trained_over += sql(off + "/results.db",
                        fmt::format("SELECT COUNT(*) FROM trainings WHERE hash = '{}';",
                                    x.at("architecture_hash").get<std::string>())) == "1\n";
  BOOST_TEST(trained_over >= 1);
  const auto off_summary =
      nlohmann::json::parse(sql(off + "/results.db", "SELECT value FROM meta WHERE key = "
                                                     "'stage.train';"));
  BOOST_TEST(off_summary.at("best").contains("latency_predicted_s"));

  // `narrow query` rebuilds the run's device from the experiment's own `plugins:` (no
  // --plugins) and predicts the latency of the models the run did not measure: half a
  // nanosecond per MAC.
  auto q = run_narrow(Args{"query", off, "--json"});
  BOOST_REQUIRE_MESSAGE(q.exit_code == 0, q.err);
  const auto model = nlohmann::json::parse(q.out).at("model");
  BOOST_TEST(model.at("latency").at("source") == "predicted");
  BOOST_TEST(model.at("latency").at("seconds").get<double>() ==
                 0.5e-9 * model.at("metrics").at("macs").get<double>(),
             boost::test_tools::tolerance(1e-6));
}
