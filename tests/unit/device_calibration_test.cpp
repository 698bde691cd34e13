#define BOOST_TEST_MODULE device_calibration
// The calibration workflow as a library function, on a device whose latency is a known linear
// law of the features: the fit finds the law, the held-out share is tested, the files it
// writes read back, a re-fit from saved measurements gives the same model, and bad input is
// an InputError.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "core/device_calibration.hpp"
#include "narrow/errors.hpp"
#include "narrow/latency_model.hpp"
#include "narrow/registry.hpp"
#include "support/files.hpp"
#include "support/plugins.hpp"

using namespace narrow;

namespace {

/// Latency = 50 µs + 2 ns per MAC + 10 ns per op, exactly, and counts its measurements.
class LawDevice final : public Device {
 public:
  std::string name() const override { return "law"; }
  nlohmann::json description() const override {
    return {{"name", "law"}, {"parameters", nlohmann::json::object()}};
  }
  std::int64_t ram_bytes() const override { return 0; }
  std::int64_t flash_bytes() const override { return 0; }
  bool measures() const override { return true; }
  LatencyMeasurement measure(const Architecture& arch, const LatencyOptions& options) override {
    ++measured;
    const auto f = latency_features(arch, {"macs", "ops"});
    LatencyMeasurement m;
    m.mean = m.median = 50e-6 + 2e-9 * f[0] + 10e-9 * f[1];
    m.runs = options.runs;
    m.repeats = measured % 4 == 0;  // some measurements say they were repeated
    return m;
  }
  int measured = 0;
};

std::vector<CalibrationSpace> sequential() {
  Registry& registry = test::built_plugins();
  std::shared_ptr<SearchSpace> space = registry.create_space("sequential", {});
  CalibrationSpace s{"sequential", space, {SamplingLaw::uniform(space->variables())}};
  s.laws.front().name = "uniform";
  return {s};
}

CalibrationOptions totals(const test::TempDir& dir) {
  CalibrationOptions o;
  o.fit = "totals";
  o.features = {"constant", "macs", "ops"};
  o.count = 20;
  o.pool = 10;
  o.min_macs = 1e4;
  o.max_macs = 2e6;
  o.min_macs_text = "10k";
  o.max_macs_text = "2M";
  o.device_name = "law";
  o.out = dir.file("cal.json");
  o.csv = dir.file("cal.csv");
  o.save_measurements = dir.file("cal.jsonl");
  return o;
}

std::size_t lines(const std::string& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string l; std::getline(in, l);) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_linear_law_is_found_and_tested_on_the_held_out_share) {
  test::TempDir dir("device_calibration");
  LawDevice device;
  CalibrationOptions o = totals(dir);
  std::vector<std::string> notices;
  o.notice = [&](const std::string& line) { notices.push_back(line); };
  const CalibrationOutcome out = calibrate_device(&device, sequential(), o);

  BOOST_TEST(device.measured == 20);
  BOOST_TEST(out.samples.size() == 20u);
  BOOST_TEST(out.held_out == 6u);
  std::set<std::string> hashes;
  std::size_t held = 0;
  for (const auto& s : out.samples) {
    hashes.insert(s.hash);
    held += s.held_out;
    BOOST_TEST(s.metrics.macs >= 10000);
    BOOST_TEST(s.metrics.macs <= 2000000);
    BOOST_TEST(std::abs(s.predicted - s.latency.mean) <= 1e-6 * s.latency.mean);
  }
  BOOST_TEST(hashes.size() == 20u);
  BOOST_TEST(held == 6u);
  BOOST_TEST(out.repeated == 5);

  const Calibration& cal = out.calibration;
  BOOST_TEST(cal.fit == "totals");
  BOOST_TEST(cal.samples == 20);
  BOOST_TEST(cal.held_out.count == 6);
  BOOST_TEST(cal.training.count == 14);
  BOOST_TEST(cal.held_out.within_10pct == 1.0);
  BOOST_TEST(cal.held_out.r2 > 0.999999);
  BOOST_TEST(std::abs(cal.model.coefficients[0] - 50e-6) <= 1e-9);
  BOOST_TEST(std::abs(cal.model.coefficients[1] - 2e-9) <= 1e-12);
  BOOST_TEST(std::abs(cal.model.coefficients[2] - 10e-9) <= 1e-11);
  BOOST_TEST(cal.spaces == std::vector<std::string>{"sequential"});
  BOOST_TEST(cal.device.at("name") == "law");
  // With "totals" the baseline is the model itself.
  BOOST_TEST(out.baseline_features == o.features);
  BOOST_TEST(out.baseline_held_out.r2 == cal.held_out.r2);
  BOOST_TEST(!notices.empty());
  BOOST_TEST(notices.front() ==
             "calibrate: 20 architectures from 1 space on device 'law' (1 thread, 10 runs each)");

  // The files: the calibration reads back, one CSV row and one measurement line a sample.
  const Calibration loaded = Calibration::load(o.out);
  BOOST_TEST(loaded.model.coefficients == cal.model.coefficients);
  BOOST_TEST(lines(o.csv) == 21u);
  BOOST_TEST(lines(o.save_measurements) == 21u);

  // The same seed draws the same architectures; a re-fit from the measurements, without a
  // device, gives the same model and split.
  CalibrationOptions refit = totals(dir);
  refit.out = dir.file("refit.json");
  refit.csv.clear();
  refit.save_measurements.clear();
  refit.measurements = o.save_measurements;
  const CalibrationOutcome again = calibrate_device(nullptr, {}, refit);
  BOOST_TEST(again.calibration.model.coefficients == cal.model.coefficients);
  BOOST_TEST(again.calibration.device == cal.device);
  BOOST_REQUIRE(again.samples.size() == out.samples.size());
  for (std::size_t i = 0; i < out.samples.size(); ++i) {
    BOOST_TEST(again.samples[i].hash == out.samples[i].hash);
    BOOST_TEST(again.samples[i].held_out == out.samples[i].held_out);
  }
}

BOOST_AUTO_TEST_CASE(bad_input_is_an_input_error) {
  test::TempDir dir("device_calibration_bad");
  LawDevice device;
  auto fails = [&](CalibrationOptions o, const std::string& needle) {
    o.notice = [](const std::string&) {};
    try {
      calibrate_device(&device, sequential(), o);
      BOOST_ERROR("no error for " << needle);
    } catch (const InputError& e) {
      BOOST_TEST(std::string(e.what()).find(needle) != std::string::npos, e.what());
    }
  };
  // A layered fit needs layer times, which this device does not give.
  CalibrationOptions layered = totals(dir);
  layered.fit = "layers";
  layered.features = layered_latency_features();
  fails(layered, "the measurements of the device have no layer times");
  // Three architectures are too few for three features and a test.
  CalibrationOptions few = totals(dir);
  few.count = 3;
  fails(few, "3 distinct architectures are too few for the totals fit (3 to fit)");
  // No architecture in the MACs range.
  CalibrationOptions none = totals(dir);
  none.min_macs = 1e12;
  none.max_macs = 2e12;
  none.min_macs_text = "1T";
  none.max_macs_text = "2T";
  fails(none, "space 'sequential' drew no architecture with 1T..2T MACs");
}
