#define BOOST_TEST_MODULE device_constraints
// Device constraints in experiments: `fits: device` bounds activations by the device's RAM and
// weights by its flash, and `latency` rejects draws whose predicted latency exceeds the bound.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

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
