#define BOOST_TEST_MODULE precision_cli
// `narrow precision`: a trained model evaluated in number formats, its best format within an
// accuracy drop, and the Pareto front of (weight memory, accuracy).
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "support/run.hpp"

namespace fs = std::filesystem;
using narrow::test::build_dir;
using narrow::test::run_narrow;
using nlohmann::json;
using Args = std::vector<std::string>;

namespace {

const char* arch_text = R"({"input": [1, 8, 8], "classes": 4, "output": "fc", "layers": [
  {"id": "conv", "op": "conv2d", "inputs": ["input"], "out_channels": 8, "kernel": 3, "padding": 1},
  {"id": "bn", "op": "batchnorm", "inputs": ["conv"]},
  {"id": "relu", "op": "relu", "inputs": ["bn"]},
  {"id": "pool", "op": "maxpool", "inputs": ["relu"], "kernel": 2},
  {"id": "flat", "op": "flatten", "inputs": ["pool"]},
  {"id": "fc", "op": "linear", "inputs": ["flat"], "out_features": 4}]})";

const Args data = {"--dataset", "synthetic", "--data", "train=480", "--data", "test=200"};

Args operator+(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

BOOST_AUTO_TEST_CASE(formats_best_format_and_pareto_front) {
  const fs::path work = fs::path(build_dir()) / "tests" / "precision_cli";
  fs::remove_all(work);
  fs::create_directories(work);
  const auto arch = (work / "m.json").string(), weights = (work / "m.pt").string();
  std::ofstream(arch) << arch_text;
  auto t = run_narrow(Args{"train", "--arch", arch, "--epochs", "4", "--threads", "1", "--save",
                           weights, "--json"} +
                      data);
  BOOST_REQUIRE_MESSAGE(t.exit_code == 0, t.err);
  const double trained = json::parse(t.out)["test_accuracy"];

  const auto csv = (work / "p.csv").string();
  auto r = run_narrow(Args{"precision", "--arch", arch, "--weights", weights, "--format",
                           "ieee(2..3,1..2)", "--format", "half", "--format", "e4m3", "--format",
                           "int8", "--threads", "1", "--max-drop", "0.02", "--csv", csv,
                           "--json"} +
                      data);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json j = json::parse(r.out);
  BOOST_TEST(j["formats"] == 7);
  const json& m = j["models"][0];
  BOOST_REQUIRE(m["results"].size() == 8u);  // float32 + 7
  // Batch norm folded, float32: the model's own test accuracy (within one image).
  const double f32 = m["float32_accuracy"];
  BOOST_TEST(std::abs(f32 - trained) <= 1.0 / 200, f32 << " vs " << trained);
  std::map<std::string, json> by;
  for (const auto& x : m["results"]) by[x["format"]] = x;
  for (const char* f : {"float32", "ieee(2,1)", "ieee(2,2)", "ieee(3,1)", "ieee(3,2)", "half",
                        "e4m3", "int8"})
    BOOST_TEST(by.count(f) == 1u, f);
  BOOST_TEST(by["half"]["bits"] == 16);
  BOOST_TEST(by["ieee(2,1)"]["bits"] == 4);
  // Half precision loses (almost) nothing on this model.
  BOOST_TEST(std::abs(double(by["half"]["accuracy"]) - f32) <= 2.0 / 200);
  // weight bytes = parameters after folding x bits / 8.
  const std::int64_t params = m["parameters"];
  BOOST_TEST(by["half"]["weight_bytes"] == params * 2);
  // int8 stores more than one byte per parameter: int32 biases, scales and zero points.
  BOOST_TEST(std::int64_t(by["int8"]["weight_bytes"]) > params);
  // The best format is within the drop and no larger than any other that is.
  const json& best = m["best"];
  BOOST_TEST(double(best["accuracy"]) >= f32 - 0.02 - 1e-12);
  for (const auto& x : m["results"])
    if (double(x["accuracy"]) >= f32 - 0.02) BOOST_TEST(best["weight_bytes"] <= x["weight_bytes"]);
  // The front grows in memory and in accuracy.
  const json& front = j["pareto"];
  BOOST_REQUIRE(front.size() >= 1u);
  for (std::size_t i = 1; i < front.size(); ++i) {
    BOOST_TEST(front[i]["weight_bytes"] > front[i - 1]["weight_bytes"]);
    BOOST_TEST(front[i]["accuracy"] > front[i - 1]["accuracy"]);
  }
  // The CSV holds a header and one row per (model, format).
  std::ifstream in(csv);
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    ++rows;
    if (rows > 1) BOOST_TEST(line.find(",\"") != std::string::npos, line);  // quoted format
  }
  BOOST_TEST(rows == 1 + 8);

  // Bad input: one line, exit 2.
  for (const auto& [args, message] : std::vector<std::pair<Args, std::string>>{
           {Args{"precision", "--arch", arch, "--weights", weights, "--format", "ieee(9,3)"} + data,
            "out of range"},
           {Args{"precision", "--arch", arch, "--weights", weights, "--format", "nope"} + data,
            "unknown format 'nope'"},
           {Args{"precision", "--arch", arch, "--weights", weights, "--format", "ieee(3..1,2)"} +
                data,
            "empty or too long"},
           {Args{"precision", "--arch", arch}, "--weights"},
           {Args{"precision", "--store", (work / "none.db").string()}, "does not exist"}}) {
    auto b = run_narrow(args);
    BOOST_TEST(b.exit_code == 2, message << ": " << b.err);
    BOOST_TEST(b.err.find(message) != std::string::npos, message << ": " << b.err);
  }
}
