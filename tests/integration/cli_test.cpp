#define BOOST_TEST_MODULE cli
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/run.hpp"
#include "support/text.hpp"

using narrow::test::read_text;
using narrow::test::run_narrow;
using nlohmann::json;

namespace {
bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
}  // namespace

BOOST_AUTO_TEST_CASE(help_lists_commands_and_each_command_has_help) {
  auto r = run_narrow({"--help"});
  BOOST_TEST(r.exit_code == 0);
  for (const char* c : {"plugins", "describe", "sample"}) {
    BOOST_TEST(has(r.out, c));
    auto h = run_narrow({c, "--help"});
    BOOST_TEST(h.exit_code == 0, c);
    BOOST_TEST(has(h.out, std::string("usage: narrow ") + c), h.out);
  }
}

BOOST_AUTO_TEST_CASE(describe_space_json) {
  auto r = run_narrow({"describe", "--space", "sequential", "--json"});
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  auto j = json::parse(r.out);
  BOOST_TEST(j["space"] == "sequential");
  BOOST_TEST(j["references"] == json({"fig1", "lenet5", "vgg_small"}));
  BOOST_TEST(j["variables"].size() > 10u);
  BOOST_TEST(j["variables"][0]["name"] == "conv_layers");
  BOOST_TEST(j["variables"][3]["depends_on"]["variable"] == "conv_layers");
}

BOOST_AUTO_TEST_CASE(describe_reference_json) {
  auto r = run_narrow({"describe", "--space", "sequential", "--reference", "lenet5", "--json"});
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  auto j = json::parse(r.out);
  BOOST_TEST(j["reference"] == "lenet5");
  BOOST_TEST(j["metrics"]["params"] == 61706);
  BOOST_TEST(j["metrics"]["flops"] == 2 * j["metrics"]["macs"].get<std::int64_t>());
  BOOST_TEST(j["architecture"]["input"] == json({1, 28, 28}));
  BOOST_TEST(j["architecture"]["output"] == "classifier");
  // The printed architecture reads back with `describe --arch`, with the same hash.
  auto path = narrow::test::build_dir() + "/tests/lenet5_arch.json";
  std::ofstream(path) << j["architecture"].dump();
  auto back = run_narrow({"describe", "--arch", path, "--json"});
  BOOST_REQUIRE_EQUAL(back.exit_code, 0);
  auto jb = json::parse(back.out);
  BOOST_TEST(jb["hash"] == j["hash"]);
  BOOST_TEST(jb["metrics"] == j["metrics"]);
}

BOOST_AUTO_TEST_CASE(sample_json_and_csv_are_reproducible) {
  auto csv1 = narrow::test::build_dir() + "/tests/sample1.csv";
  auto csv2 = narrow::test::build_dir() + "/tests/sample2.csv";
  auto a = run_narrow({"sample", "--space", "sequential", "--count", "500", "--seed", "9",
                       "--threads", "1", "--csv", csv1, "--json"});
  auto b = run_narrow({"sample", "--space", "sequential", "--count", "500", "--seed", "9",
                       "--threads", "2", "--csv", csv2, "--json"});
  BOOST_REQUIRE_EQUAL(a.exit_code, 0);
  BOOST_REQUIRE_EQUAL(b.exit_code, 0);
  auto ja = json::parse(a.out), jb = json::parse(b.out);
  BOOST_TEST(ja["count"] == 500);
  for (const char* k : {"rejected", "seconds", "per_second", "metrics"})
    BOOST_TEST(ja.contains(k), k);
  for (const char* m : {"params", "macs", "flops", "weight_bytes", "memory_eq6_bytes",
                        "activation_peak_bytes", "layers"})
    for (const char* s : {"min", "median", "mean", "max"}) BOOST_TEST(ja["metrics"][m].contains(s));
  BOOST_TEST(ja["metrics"] == jb["metrics"]);
  BOOST_TEST(ja["rejected"] == jb["rejected"]);
  auto t1 = read_text(csv1), t2 = read_text(csv2);
  BOOST_TEST(t1 == t2);
  BOOST_TEST(has(
      t1, "hash,params,macs,flops,weight_bytes,memory_eq6_bytes,activation_peak_bytes,layers\n"));
  BOOST_TEST(std::count(t1.begin(), t1.end(), '\n') == 501);
  auto c =
      run_narrow({"sample", "--space", "sequential", "--count", "500", "--seed", "10", "--json"});
  BOOST_TEST(json::parse(c.out)["metrics"] != ja["metrics"]);
}

BOOST_AUTO_TEST_CASE(bad_input_gives_one_line_and_exit_code_2) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases{
      {{"frobnicate"}, "unknown command 'frobnicate' (valid: plugins, describe, sample"},
      {{"describe", "--space", "sequentail"}, "unknown space 'sequentail' (valid: "},
      {{"describe", "--space", "sequential", "--reference", "alexnet"},
       "unknown reference 'alexnet'"},
      {{"describe", "--space", "sequential", "--param", "classes=0"}, "out of range"},
      {{"describe", "--space", "sequential", "--param", "clases=3"}, "unknown parameter 'clases'"},
      {{"describe", "--space", "sequential", "--param", "classes"}, "must be NAME=VALUE"},
      {{"describe", "--arch", "/nonexistent.json"}, "cannot read architecture file"},
      {{"sample", "--count", "10"}, "--space"},
      {{"sample", "--space", "sequential", "--count", "0"}, "--count 0 must be at least 1"},
      {{"sample", "--space", "sequential", "--count", "ten"}, "count"},
      {{"sample", "--space", "sequential", "--bogus"}, "bogus"},
      {{"sample", "--space", "sequential", "--csv", "/nonexistent/dir/x.csv"},
       "cannot write CSV file"},
  };
  for (const auto& c : cases) {
    auto r = run_narrow(c.args);
    BOOST_TEST(r.exit_code == 2, c.args.front() << ": " << r.err);
    BOOST_TEST(has(r.err, c.message), "expected '" << c.message << "' in: " << r.err);
    BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err);
    BOOST_TEST(r.out.empty());
  }
  // A bad architecture file names the file.
  auto path = narrow::test::build_dir() + "/tests/bad_arch.json";
  std::ofstream(path)
      << R"({"input":[1,8,8],"classes":2,"output":"o","layers":[{"id":"o","op":"linear","out_features":2,"inputs":["input"]}]})";
  auto r = run_narrow({"describe", "--arch", path});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(has(r.err, path + ": error: layer 'o' (linear) needs a flat vector"), r.err);
}

// An experiment whose device is calibrated on the machine that runs it (the calibration file is
// made by a script first, e.g. scripts/scheidegger.sh) is refused until that file exists, and
// validates with a calibration of this machine in its place.
BOOST_AUTO_TEST_CASE(every_shipped_experiment_validates) {
  int n = 0, calibrated = 0;
  const std::string calibration = narrow::test::build_dir() + "/tests/cli_calibration.json";
  std::filesystem::remove(calibration);
  for (const auto& e : std::filesystem::directory_iterator(narrow::test::source_dir() + "/experiments")) {
    if (e.path().extension() != ".yaml") continue;
    auto r = run_narrow({"validate", e.path().string()});
    if (r.exit_code == 2 && has(r.err, "cannot read calibration file")) {
      if (!std::filesystem::exists(calibration)) {
        auto c = run_narrow({"calibrate", "--spaces", "sequential", "--count", "20", "--max-macs",
                             "1M", "--out", calibration});
        BOOST_REQUIRE_MESSAGE(c.exit_code == 0, c.err);
      }
      r = run_narrow({"validate", e.path().string(), "--set",
                      "device.parameters.calibration=" + calibration});
      ++calibrated;
    }
    BOOST_TEST(r.exit_code == 0, e.path().string() << ": " << r.err);
    ++n;
  }
  BOOST_TEST(n >= 3);
  BOOST_TEST(calibrated == 1);  // experiments/scheidegger_fashion_mnist.yaml
}
