// `narrow calibrate`: a short real calibration on the host with --json, the files it writes,
// the same seed drawing the same architectures, a re-fit from saved measurements, and bad
// input as one line with exit code 2.
#define BOOST_TEST_MODULE calibrate_command
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/latency_model.hpp"
#include "support/files.hpp"
#include "support/run.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using narrow::test::run_narrow;

namespace {

const std::vector<std::string> progress_off{"NARROW_PROGRESS=off"};

/// A tiny calibration: few small sequential networks, few runs, three features.
std::vector<std::string> tiny(const fs::path& dir, const std::string& tag,
                              const std::string& seed = "1") {
  return {"calibrate",  "--spaces", "sequential", "--count", "10", "--max-macs", "2M",
          "--param",    "runs=2",   "--param",    "warmup=1", "--param", "max_repeats=0",
          "--features", "constant,macs,ops", "--seed", seed,
          "--out",      (dir / (tag + ".json")).string(),
          "--csv",      (dir / (tag + ".csv")).string(),
          "--save-measurements", (dir / (tag + ".jsonl")).string(), "--json"};
}

/// The architecture hashes of a calibrate CSV (third column), in order.
std::vector<std::string> hashes(const fs::path& csv) {
  std::ifstream in(csv);
  std::vector<std::string> out;
  std::string line;
  std::getline(in, line);
  BOOST_TEST(line.find("space,law,hash,params,macs") == 0u);
  while (std::getline(in, line)) {
    std::stringstream row(line);
    std::string cell;
    for (int k = 0; k < 3; ++k) std::getline(row, cell, ',');
    out.push_back(cell);
  }
  return out;
}

/// Runs a shell command; its exit status and its stdout and stderr together.
struct CommandOutput {
  int status = -1;
  std::string out;
};
CommandOutput command_output(const std::string& command) {
  CommandOutput r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  BOOST_REQUIRE(pipe != nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) r.out.append(buf, n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

void expect_one_line_error(const std::vector<std::string>& args, const std::string& needle) {
  const auto r = run_narrow(args, progress_off);
  BOOST_TEST(r.exit_code == 2, "exit " << r.exit_code << " for: " << r.err);
  BOOST_TEST(r.out.empty());
  BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err);
  BOOST_TEST(r.err.find(needle) != std::string::npos, r.err);
}

}  // namespace

BOOST_AUTO_TEST_CASE(tiny_calibration_on_the_host) {
  const fs::path dir = narrow::test::work_dir("calibrate");
  const auto r = run_narrow(tiny(dir, "a"), progress_off);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json j = json::parse(r.out);
  BOOST_TEST(j.at("count").get<int>() == 10);
  BOOST_TEST(j.at("held_out").get<int>() == 3);
  for (const char* k : {"r2", "median_abs_pct_error", "within_10pct", "noise_cv_median"})
    BOOST_TEST(j.at(k).is_number(), k);
  BOOST_TEST(j.at("within_10pct").get<double>() >= 0.0);
  BOOST_TEST(j.at("within_10pct").get<double>() <= 1.0);
  BOOST_TEST(j.at("median_abs_pct_error").get<double>() >= 0.0);
  BOOST_TEST(j.at("noise_cv_median").get<double>() >= 0.0);
  BOOST_TEST(j.at("threads").get<int>() == 1);
  BOOST_TEST(j.at("device").at("name") == "host");

  // The calibration file loads, and the calibrated device predicts with it.
  const auto cal = narrow::Calibration::load((dir / "a.json").string());
  BOOST_TEST(cal.samples == 10);
  BOOST_TEST(cal.held_out.count == 3);
  BOOST_TEST(cal.training.count == 7);
  BOOST_TEST(cal.model.features == (std::vector<std::string>{"constant", "macs", "ops"}));
  BOOST_TEST(cal.held_out.within_10pct == j.at("within_10pct").get<double>());
  BOOST_TEST(cal.options.runs == 2);
  BOOST_TEST(cal.spaces == std::vector<std::string>{"sequential"});

  // Figure 2's data: one row per architecture, MACs within the range asked for.
  const auto rows = hashes(dir / "a.csv");
  BOOST_TEST(rows.size() == 10u);
  BOOST_TEST(std::set<std::string>(rows.begin(), rows.end()).size() == 10u);

  // Same seed, same architectures; another seed, others.
  const auto again = run_narrow(tiny(dir, "b"), progress_off);
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  BOOST_TEST(hashes(dir / "b.csv") == rows);
  const auto other = run_narrow(tiny(dir, "c", "2"), progress_off);
  BOOST_REQUIRE_MESSAGE(other.exit_code == 0, other.err);
  BOOST_TEST(hashes(dir / "c.csv") != rows);

  // A re-fit from the saved measurements gives the very same model.
  const auto refit =
      run_narrow({"calibrate", "--measurements", (dir / "a.jsonl").string(), "--features",
                  "constant,macs,ops", "--out", (dir / "refit.json").string(), "--json"},
                 progress_off);
  BOOST_REQUIRE_MESSAGE(refit.exit_code == 0, refit.err);
  const json k = json::parse(refit.out);
  BOOST_TEST(k.at("coefficients") == j.at("coefficients"));
  BOOST_TEST(k.at("median_abs_pct_error") == j.at("median_abs_pct_error"));

  // Human-readable output names the figures.
  const auto human = run_narrow({"calibrate", "--measurements", (dir / "a.jsonl").string(),
                                 "--features", "constant,macs", "--out",
                                 (dir / "human.json").string()},
                                progress_off);
  BOOST_REQUIRE_MESSAGE(human.exit_code == 0, human.err);
  BOOST_TEST(human.out.find("held out") != std::string::npos, human.out);
  BOOST_TEST(human.out.find("within ±10 %") != std::string::npos, human.out);

  // scripts/calibration_by_space.sh splits the held-out error by space from the CSV: with one
  // space, its row and the row of all spaces are the figures narrow calibrate printed.
  const std::string script = narrow::test::source_dir() + "/scripts/calibration_by_space.sh";
  const auto table = command_output("bash '" + script + "' '" + (dir / "a.csv").string() + "'");
  BOOST_TEST(table.status == 0, table.out);
  bool seen_all = false, seen_sequential = false;
  std::istringstream lines(table.out);
  for (std::string line; std::getline(lines, line);) {
    const bool all = line.rfind("(all) ", 0) == 0, seq = line.rfind("sequential ", 0) == 0;
    if (!all && !seq) continue;
    (all ? seen_all : seen_sequential) = true;
    std::istringstream cells(line.substr(all ? 5 : 10));  // after "(all)" or "sequential"
    int count = 0;
    double median = -1, within = -1;
    std::string pct;
    cells >> count >> median >> pct >> within;
    BOOST_TEST(count == 3, line);
    BOOST_TEST(std::abs(median - j.at("median_abs_pct_error").get<double>()) < 0.011, line);
    BOOST_TEST(std::abs(within - 100 * j.at("within_10pct").get<double>()) < 0.051, line);
  }
  BOOST_TEST(seen_all, table.out);
  BOOST_TEST(seen_sequential, table.out);
  const auto bad = command_output("bash '" + script + "' '" + (dir / "a.json").string() + "'");
  BOOST_TEST(bad.status == 2, bad.out);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(layered_calibration_on_the_host) {
  const fs::path dir = narrow::test::work_dir("calibrate_layers");
  const std::vector<std::string> args{
      "calibrate", "--spaces", "sequential", "--count", "24", "--max-macs", "2M",
      "--param",   "runs=2",   "--param",    "warmup=1", "--param", "max_repeats=0",
      "--out",     (dir / "l.json").string(),  "--save-measurements",
      (dir / "l.jsonl").string(), "--json"};
  const auto r = run_narrow(args, progress_off);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json j = json::parse(r.out);
  BOOST_TEST(j.at("fit") == "layers");
  BOOST_TEST(j.at("count").get<int>() == 24);
  // The whole-network fit runs beside it on the same split, as the baseline.
  BOOST_TEST(j.at("baseline").at("fit") == "totals");
  BOOST_TEST(j.at("baseline").at("held_out").at("count").get<int>() ==
             j.at("held_out").get<int>());
  // Kinds the sequential space never has are said on stderr.
  BOOST_TEST(r.err.find("no calibration architecture has a concat layer") != std::string::npos,
             r.err);
  const auto cal = narrow::Calibration::load((dir / "l.json").string());
  BOOST_TEST(cal.fit == "layers");
  BOOST_TEST(cal.model.features == narrow::layered_latency_features());
  BOOST_TEST(cal.options.layers);
  // Every line of the measurements holds one time per layer of the folded network.
  std::ifstream in(dir / "l.jsonl");
  std::string line;
  std::getline(in, line);
  std::size_t lines = 0;
  while (std::getline(in, line)) {
    const json m = json::parse(line);
    const auto arch = narrow::Architecture::from_json(m.at("architecture"));
    BOOST_TEST(m.at("latency").at("layer_seconds").size() ==
               narrow::fold_batchnorm(arch).layers().size());
    // The model predicts from the architecture alone.
    BOOST_TEST(cal.model.predict(arch) > 0.0);
    ++lines;
  }
  BOOST_TEST(lines == 24u);
  // A re-fit from the saved measurements gives the very same model.
  const auto refit = run_narrow({"calibrate", "--measurements", (dir / "l.jsonl").string(),
                                 "--out", (dir / "refit.json").string(), "--json"},
                                progress_off);
  BOOST_REQUIRE_MESSAGE(refit.exit_code == 0, refit.err);
  const json k = json::parse(refit.out);
  BOOST_TEST(k.at("coefficients") == j.at("coefficients"));
  BOOST_TEST(k.at("baseline") == j.at("baseline"));
  // Measurements without layer times cannot make a layered fit.
  const auto totals = run_narrow(tiny(dir, "t"), progress_off);
  BOOST_REQUIRE_MESSAGE(totals.exit_code == 0, totals.err);
  expect_one_line_error({"calibrate", "--measurements", (dir / "t.jsonl").string(), "--out",
                         (dir / "x.json").string()},
                        "have no layer times");
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(bad_input_is_one_line_and_exit_2) {
  const fs::path dir = narrow::test::work_dir("calibrate_bad_input");
  const std::string out = (dir / "x.json").string();
  expect_one_line_error({"calibrate", "--count", "0", "--out", out}, "--count 0");
  expect_one_line_error({"calibrate", "--held-out", "1.5", "--out", out}, "--held-out 1.5");
  expect_one_line_error({"calibrate", "--max-macs", "lots", "--out", out}, "--max-macs 'lots'");
  expect_one_line_error({"calibrate", "--min-macs", "5M", "--max-macs", "1M", "--out", out},
                        "above --max-macs");
  expect_one_line_error({"calibrate", "--features", "constant,bogus", "--out", out},
                        "unknown latency feature 'bogus'");
  expect_one_line_error({"calibrate", "--count", "4", "--out", out}, "raise --count");
  expect_one_line_error({"calibrate", "--fit", "bogus", "--out", out}, "--fit 'bogus'");
  expect_one_line_error({"calibrate", "--fit", "layers", "--features", "macs", "--out", out},
                        "--features chooses");
  expect_one_line_error({"calibrate", "--device", "nope", "--out", out}, "nope");
  expect_one_line_error({"calibrate", "--device", "analytic", "--out", out},
                        "does not measure latency");
  expect_one_line_error({"calibrate", "--spaces", "nowhere", "--out", out}, "nowhere");
  expect_one_line_error({"calibrate", "--param", "runs", "--out", out}, "NAME=VALUE");
  expect_one_line_error({"calibrate", "--param", "runs=0", "--out", out}, "runs");
  expect_one_line_error({"calibrate", "--out", (dir / "no" / "such" / "x.json").string()},
                        "does not exist");
  expect_one_line_error({"calibrate", "--measurements", (dir / "missing.jsonl").string(),
                         "--out", out},
                        "cannot read measurements file");
  {
    std::ofstream(dir / "bad.jsonl") << "{\"narrow_measurements\": 1, \"device\": {\"name\": "
                                        "\"host\"}, \"options\": {\"runs\": 10, \"warmup\": 3, "
                                        "\"threads\": 1, \"max_cv\": 0.05, \"max_repeats\": 3, "
                                        "\"min_run_seconds\": 0.001}}\n{\"space\": 3}\n";
    expect_one_line_error(
        {"calibrate", "--measurements", (dir / "bad.jsonl").string(), "--out", out},
        (dir / "bad.jsonl").string() + ":2");
  }
  expect_one_line_error({"calibrate", "--bogus-option"}, "bogus");
  BOOST_TEST(!fs::exists(out));
  fs::remove_all(dir);
}
