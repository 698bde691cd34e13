#define BOOST_TEST_MODULE train
// `narrow train` and the `train` stage, end to end on small synthetic data: results, the
// store, independence from the number of parallel jobs, resume after SIGKILL, bad input.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/files.hpp"
#include "support/run.hpp"
#include "support/sqlite.hpp"

namespace fs = std::filesystem;
using narrow::test::run_narrow;
using narrow::test::work_dir;
using narrow::test::source_dir;
using narrow::test::sql;
using nlohmann::json;

namespace {

// conv 8 -> relu -> maxpool 2 -> flatten -> linear 4, for 1x8x8 images.
const char* tiny_arch = R"({"input": [1, 8, 8], "classes": 4, "output": "fc",
  "layers": [
    {"id": "conv", "op": "conv2d", "inputs": ["input"], "out_channels": 8, "kernel": 3, "padding": 1},
    {"id": "relu", "op": "relu", "inputs": ["conv"]},
    {"id": "pool", "op": "maxpool", "inputs": ["relu"], "kernel": 2},
    {"id": "flat", "op": "flatten", "inputs": ["pool"]},
    {"id": "fc", "op": "linear", "inputs": ["flat"], "out_features": 4}]})";

std::string write(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

using Args = std::vector<std::string>;
const Args synthetic = {"--dataset", "synthetic", "--data", "train=480",
                                            "--data", "test=120"};

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string smoke() {
  return (fs::path(source_dir()) / "experiments" / "smoke" / "train.yaml").string();
}

// What the trainings of a store came to, without times.
std::string trainings(const std::string& db) {
  return sql(db,
             "SELECT key, hash, dataset, config, seed, status, reason, epochs, iterations, "
             "val_accuracy, val_loss, test_accuracy, test_loss, history IS NOT NULL, "
             "hex(weights) FROM trainings ORDER BY key;");
}

}  // namespace

BOOST_AUTO_TEST_CASE(train_an_architecture_file) {
  const auto work = work_dir("train_cli");
  const auto arch = write(work / "tiny.json", tiny_arch);
  const auto weights = (work / "tiny.pt").string();
  auto r = run_narrow(Args{"train", "--arch", arch, "--epochs", "4", "--batch-size", "32",
                       "--threads", "1", "--save", weights, "--json"} +
                      synthetic);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const json j = json::parse(r.out);
  for (const char* key : {"architecture_hash", "epochs", "val_accuracy", "test_accuracy",
                          "seconds", "images_per_second"})
    BOOST_TEST(j.contains(key), key);
  auto d = run_narrow(Args{"describe", "--arch", arch, "--json"});
  BOOST_REQUIRE_EQUAL(d.exit_code, 0);
  BOOST_TEST(j["architecture_hash"] == json::parse(d.out)["hash"]);
  BOOST_TEST(j["epochs"] == 4);
  BOOST_TEST(j["history"].size() == 4u);
  BOOST_TEST(j["threads"] == 1);
  const double val = j["val_accuracy"], test = j["test_accuracy"];
  BOOST_TEST(val >= 0.0);
  BOOST_TEST(val <= 1.0);
  // The synthetic classes are easy: a trained model is far above chance (0.25).
  BOOST_TEST(test > 0.8, "test accuracy " << test);
  BOOST_TEST(double(j["images_per_second"]) > 0);
  BOOST_TEST(j["test"]["count"] == 120);
  BOOST_TEST(j["validation"]["count"] == 48);  // 10% of 480
  BOOST_TEST(fs::file_size(weights) > 0u);

  // The saved weights evaluate to what the training reported.
  auto e = run_narrow(Args{"evaluate", "--arch", arch, "--weights", weights, "--threads", "1",
                           "--json"} +
                      synthetic);
  BOOST_REQUIRE_MESSAGE(e.exit_code == 0, e.err);
  const json ej = json::parse(e.out);
  BOOST_TEST(ej["test_accuracy"] == j["test_accuracy"]);
  BOOST_TEST(ej["val_accuracy"] == j["val_accuracy"]);
  BOOST_TEST(ej["test"]["confusion"] == j["test"]["confusion"]);
  // Weights of another model are refused in one line.
  std::string other_text = tiny_arch;
  const std::string eight = "\"out_channels\": 8";
  other_text.replace(other_text.find(eight), eight.size(), "\"out_channels\": 6");
  const auto other = write(work / "other.json", other_text);
  auto bad = run_narrow(Args{"evaluate", "--arch", other, "--weights", weights} + synthetic);
  BOOST_TEST(bad.exit_code == 2, bad.err);
  BOOST_TEST(bad.err.find("cannot load the weights") != std::string::npos, bad.err);

  // The same seed gives the same training in another process.
  auto again = run_narrow(Args{"train", "--arch", arch, "--epochs", "4", "--batch-size", "32",
                           "--threads", "1", "--json"} +
                          synthetic);
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  json k = json::parse(again.out), j2 = j;
  for (json* x : {&k, &j2})
    for (auto& epoch : (*x)["history"]) epoch.erase("seconds");
  BOOST_TEST(k["history"] == j2["history"]);
  BOOST_TEST(k["test_accuracy"] == j["test_accuracy"]);
  BOOST_TEST(k["test"]["confusion"] == j["test"]["confusion"]);

  // A partial "traction" training stops after the iterations asked for.
  auto partial = run_narrow(Args{"train", "--arch", arch, "--iterations", "5", "--batch-size", "16",
                             "--threads", "1", "--json"} +
                            synthetic);
  BOOST_REQUIRE_MESSAGE(partial.exit_code == 0, partial.err);
  BOOST_TEST(json::parse(partial.out)["iterations"] == 5);

  // Human output names the accuracies and the time.
  auto human = run_narrow(Args{"train", "--arch", arch, "--epochs", "1", "--threads", "1"} + synthetic,
                          {"NARROW_PROGRESS=on"});
  BOOST_REQUIRE_MESSAGE(human.exit_code == 0, human.err);
  BOOST_TEST(human.out.find("test accuracy") != std::string::npos, human.out);
  BOOST_TEST(human.err.find("epoch 1/1") != std::string::npos, human.err);
}

BOOST_AUTO_TEST_CASE(a_diverging_training_fails_with_its_reason) {
  const auto work = work_dir("train_nan");
  const auto arch = write(work / "tiny.json", tiny_arch);
  auto r = run_narrow(Args{"train", "--arch", arch, "--epochs", "3", "--lr", "1e5", "--threads", "1",
                       "--json"} +
                      synthetic);
  BOOST_TEST(r.exit_code == 1, r.err);
  const json j = json::parse(r.out);
  BOOST_TEST(j["status"] == "failed");
  BOOST_TEST(std::string(j["reason"]).find("loss became") != std::string::npos, j.dump());
  BOOST_TEST(r.err.find("the training failed") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(bad_train_input_is_one_line_and_exit_2) {
  const auto work = work_dir("train_bad");
  const auto arch = write(work / "tiny.json", tiny_arch);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"train"}, "either --arch FILE.json or --space NAME"},
      {{"train", "--arch", arch, "--space", "sequential"}, "either --arch"},
      {{"train", "--arch", (work / "none.json").string()}, "cannot read architecture file"},
      {{"train", "--arch", arch, "--train", "momentun=0.5"}, "momentun"},
      {{"train", "--arch", arch, "--epochs", "0"}, "'epochs' > 0 or 'iterations' > 0"},
      {{"train", "--arch", arch, "--train", "schedule=linear"}, "cosine"},
      {{"train", "--arch", arch, "--dataset", "mnist_png"}, "unknown dataset 'mnist_png'"},
      // Fashion-MNIST images are 28x28: the 8x8 architecture does not fit them.
      {{"train", "--arch", arch, "--epochs", "1"}, "takes input [1,8,8]"},
      {{"train", "--arch", arch, "--epochs", "1", "--dataset", "synthetic", "--data", "classes=3"},
       "has 4 classes"},
      {{"train", "--arch", arch, "--threads", "0"}, "--threads 0"},
  };
  for (const auto& c : cases) {
    auto r = run_narrow(c.args);
    BOOST_TEST(r.exit_code == 2, c.message << ": " << r.err);
    BOOST_TEST(r.err.find(c.message) != std::string::npos, c.message << ": " << r.err);
    // One line, no stack trace.
    BOOST_TEST(r.err.find('\n') == r.err.size() - 1, r.err);
  }
}

BOOST_AUTO_TEST_CASE(train_stage_stores_every_training_whatever_the_jobs) {
  BOOST_REQUIRE_MESSAGE(std::system("command -v sqlite3 >/dev/null") == 0,
                        "the sqlite3 shell is needed (scripts/setup.sh installs it)");
  const auto work = work_dir("train_stage");
  const auto one = (work / "one").string(), two = (work / "two").string();
  auto a = run_narrow(Args{"run", smoke(), "--out", one, "--jobs", "1", "--torch-threads", "1",
                       "--json"});
  BOOST_REQUIRE_MESSAGE(a.exit_code == 0, a.err);
  const json report = json::parse(a.out);
  const json& train = report["stages"][1]["summary"];
  BOOST_TEST(train["selected"] == 4);
  BOOST_TEST(train["trained"] == 4);
  BOOST_TEST(train["failed"] == 0);
  BOOST_TEST(double(train["best"]["val_accuracy"]) > 0.5, train.dump());
  BOOST_TEST(a.err.find("best of 4 by validation accuracy") != std::string::npos, a.err);
  const auto db = one + "/results.db";
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM trainings WHERE status='ok' AND weights IS NOT NULL;") ==
             "4\n");
  BOOST_TEST(sql(db, "SELECT COUNT(*) FROM units WHERE kind='training';") == "4\n");
  BOOST_TEST(sql(db, "SELECT COUNT(DISTINCT hash) FROM trainings;") == "4\n");
  // Per-epoch history: 3 epochs each.
  BOOST_TEST(sql(db, "SELECT MIN(json_array_length(history)) FROM trainings;") == "3\n");
  // Grid selection spans the parameter counts: the largest candidate within the budget trains.
  BOOST_TEST(sql(db,
                 "SELECT MAX(a.params) = (SELECT MAX(b.params) FROM architectures b JOIN draws d "
                 "ON d.hash = b.hash WHERE d.status='accepted') FROM trainings t JOIN "
                 "architectures a ON a.hash = t.hash;") == "1\n");

  // A stored training evaluates again to its stored accuracies, with its own dataset split.
  const std::string best_hash = train["best"]["architecture_hash"];
  auto e = run_narrow(Args{"evaluate", "--store", db, "--hash", best_hash.substr(0, 10), "--json"});
  BOOST_REQUIRE_MESSAGE(e.exit_code == 0, e.err);
  BOOST_TEST(json::parse(e.out)["val_accuracy"] == train["best"]["val_accuracy"]);
  BOOST_TEST(json::parse(e.out)["test_accuracy"] == train["best"]["test_accuracy"]);

  auto b = run_narrow(Args{"run", smoke(), "--out", two, "--jobs", "2", "--torch-threads", "1"});
  BOOST_REQUIRE_MESSAGE(b.exit_code == 0, b.err);
  BOOST_TEST(b.err.find("2 jobs at once, 1 LibTorch thread each") != std::string::npos, b.err);
  BOOST_TEST(trainings(db) == trainings(two + "/results.db"));
}

BOOST_AUTO_TEST_CASE(killed_training_run_resumes_without_training_again) {
  BOOST_REQUIRE_MESSAGE(std::system("command -v sqlite3 >/dev/null") == 0,
                        "the sqlite3 shell is needed (scripts/setup.sh installs it)");
  const auto work = work_dir("train_resume");
  // Longer trainings, so that the run can be killed between two of them.
  const std::vector<std::string> longer = {"--set", "stages.1.parameters.epochs=25", "--jobs",
                                           "1", "--torch-threads", "1"};
  const auto full = (work / "full").string(), killed = (work / "killed").string();
  auto a = run_narrow(std::vector<std::string>{"run", smoke(), "--out", full} + longer);
  BOOST_REQUIRE_MESSAGE(a.exit_code == 0, a.err);

  namespace bp = boost::process;
  const auto db = killed + "/results.db";
  bp::child child(narrow::test::env("NARROW_EXE"),
                  bp::args(std::vector<std::string>{"run", smoke(), "--out", killed} + longer),
                  bp::std_out > bp::null, bp::std_err > bp::null);
  int stored = 0;
  for (int i = 0; i < 12000 && child.running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!fs::exists(db)) continue;
    stored = std::atoi(sql(db, "SELECT COUNT(*) FROM trainings;").c_str());
    if (stored >= 1) break;
  }
  BOOST_REQUIRE_MESSAGE(child.running(), "the run finished before it could be killed");
  ::kill(child.id(), SIGKILL);
  child.wait();
  const int at_kill = std::stoi(sql(db, "SELECT COUNT(*) FROM trainings;"));
  BOOST_TEST_MESSAGE("killed with " << at_kill << " of 4 trainings stored");
  BOOST_REQUIRE(at_kill >= 1);
  BOOST_REQUIRE(at_kill < 4);
  const auto before = sql(db, "SELECT key || finished_at FROM units WHERE kind='training';");

  auto r = run_narrow(std::vector<std::string>{"run", smoke(), "--out", killed, "--resume"} +
                      longer);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(r.err.find(std::to_string(at_kill) + " trained before") != std::string::npos, r.err);
  const auto after = sql(db, "SELECT key || finished_at FROM units WHERE kind='training';");
  std::size_t start = 0;
  for (std::size_t end; (end = before.find('\n', start)) != std::string::npos; start = end + 1) {
    const auto line = before.substr(start, end - start);
    BOOST_TEST(after.find(line) != std::string::npos, "training redone: " << line);
  }
  BOOST_TEST(trainings(db) == trainings(full + "/results.db"));
}

BOOST_AUTO_TEST_CASE(train_stage_refuses_models_that_do_not_fit_the_data) {
  const auto work = work_dir("train_fit");
  // The smoke experiment's spaces take 8x8 images; Fashion-MNIST's are 28x28.
  auto r = run_narrow(Args{"run", smoke(), "--out", (work / "run").string(), "--set",
                       "dataset.name=idx", "--set", "dataset.parameters={}"});
  BOOST_TEST(r.exit_code == 2, r.err);
  BOOST_TEST(r.err.find("takes input [1,8,8] but the images of dataset") != std::string::npos,
             r.err);
}
