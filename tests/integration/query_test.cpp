#define BOOST_TEST_MODULE query
// `narrow query` on a store made by hand through the SDK's Store (three trained models, two
// of them evaluated in int8, two latencies measured and one predicted by the run's device),
// so that every answer is checked by hand; then its bad inputs.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/device.hpp"
#include "narrow/metrics.hpp"
#include "narrow/store.hpp"
#include "support/files.hpp"
#include "support/plugins.hpp"
#include "support/run.hpp"

using namespace narrow;
using narrow::test::run_narrow;
using nlohmann::json;

namespace {

// input [1,8,8] -> conv (C filters 3x3, no bias) -> batchnorm -> relu -> flatten -> linear 3.
// Batch norm folded: C*9 + C + C*64*3 + 3 parameters, 4 bytes each in float32.
Architecture net(std::int64_t channels) {
  Architecture a(Shape{1, 8, 8}, 3);
  Layer conv;
  conv.id = "conv";
  conv.op = Op::conv2d;
  conv.inputs = {"input"};
  conv.out_channels = channels;
  conv.kernel = {3, 3};
  conv.padding = {1, 1};
  conv.bias = false;
  a.add(conv);
  auto simple = [&](const char* id, Op op, const char* input) {
    Layer l;
    l.id = id;
    l.op = op;
    l.inputs = {input};
    a.add(l);
  };
  simple("bn", Op::batchnorm, "conv");
  simple("relu", Op::relu, "bn");
  simple("flat", Op::flatten, "relu");
  Layer fc;
  fc.id = "fc";
  fc.op = Op::linear;
  fc.inputs = {"flat"};
  fc.out_channels = 3;
  a.add(fc);
  a.set_output("fc");
  a.finalize();
  return a;
}

const char* kExperiment =
    "name: hand\nseed: 1\ndevice: {name: analytic, version: 0.1.0, parameters: {preset: "
    "raspberry_pi_3b_plus}}\nstages:\n  - {name: sample}\n  - {name: train}\n  - {name: "
    "precision}\n";

struct Model {
  Architecture arch;
  TrainJob job;
};

Model train(Store& s, std::int64_t channels, double val, double test) {
  Model m{net(channels), {}};
  m.job.architecture_hash = m.arch.hash();
  m.job.architecture_json = m.arch.to_json_string();
  m.job.dataset.name = "synthetic";
  m.job.seed = 1;
  m.job.key = "train-" + std::to_string(channels);
  TrainResult r;
  r.key = m.job.key;
  r.architecture_hash = m.job.architecture_hash;
  r.epochs = 1;
  r.validation = Evaluation{100, 0.5, val, {}};
  r.test = Evaluation{100, 0.5, test, {}};
  r.weights = "w";
  s.commit_training("train", m.job, r, analyse(m.arch));
  return m;
}

void evaluate(Store& s, const Model& m, const std::string& format, int bits, std::int64_t bytes,
              const std::string& split, double accuracy) {
  PrecisionRecord p;
  p.key = "precision-" + m.job.key + "-" + format + "-" + split;
  p.stage = "precision";
  p.training_key = m.job.key;
  p.architecture_hash = m.job.architecture_hash;
  p.format_key = format == "float32" ? "float32" : format + "@int8:0.1.0|";
  p.split = split;
  p.rounding = "nearest_even";
  p.result.format = format;
  p.result.bits = bits;
  p.result.weight_bytes = bytes;
  p.result.evaluation = Evaluation{100, 0.5, accuracy, {}};
  s.commit_precision(p);
}

void measure(Store& s, const Model& m, double seconds) {
  LatencyRecord l;
  l.key = "latency-" + m.job.key;
  l.stage = "latency";
  l.architecture_hash = m.job.architecture_hash;
  l.device = R"({"name":"host"})";
  l.measurement.mean = seconds;
  l.measurement.runs = 1;
  l.measurement.times = {seconds};
  s.commit_latency(l);
}

/// The store every case reads: A (2 filters), B (4), C (8); kept in the build's
/// tests/query folder to be looked at.
struct HandStore {
  std::filesystem::path dir = narrow::test::work_dir("query");
  std::string db = (dir / "results.db").string();
  std::string file(const std::string& name) const { return (dir / name).string(); }
  Model a, b, c;
  HandStore() {
    auto s = Store::open(db);
    s->set_meta("experiment", kExperiment);
    std::vector<ArchitectureRecord> archs;
    std::vector<DrawRecord> draws;
    for (std::int64_t ch : {2, 4, 8}) {
      const Architecture x = net(ch);
      archs.push_back(ArchitectureRecord{x.hash(), x.to_json_string(), analyse(x)});
      draws.push_back(
          DrawRecord{"sample", "cnn", "uniform", ch, DrawStatus::accepted, x.hash(), "", "[]"});
    }
    s->commit_unit("sample-unit", "sample", "sample", "{}", archs, draws);
    a = train(*s, 2, 0.70, 0.68);
    b = train(*s, 4, 0.85, 0.80);
    c = train(*s, 8, 0.90, 0.91);
    evaluate(*s, b, "float32", 32, 3244, "test", 0.80);
    evaluate(*s, b, "int8", 8, 1000, "test", 0.79);
    evaluate(*s, b, "int8", 8, 1000, "validation", 0.84);
    evaluate(*s, c, "float32", 32, 6476, "test", 0.91);
    evaluate(*s, c, "int8", 8, 1800, "test", 0.90);  // the test split only
    measure(*s, a, 1e-3);
    measure(*s, b, 2e-3);
  }
  test::RunResult query(std::vector<std::string> args) const {
    args.insert(args.begin(), {"query", db});
    return run_narrow(args);
  }
  json query_json(std::vector<std::string> args) const {
    args.push_back("--json");
    const auto r = query(args);
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    return json::parse(r.out);
  }
};

std::size_t lines(const std::string& text) {
  std::size_t n = 0;
  for (char ch : text) n += ch == '\n';
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_best_model_within_the_bounds) {
  const HandStore h;
  // No bound: C, the most accurate on validation; its latency predicted by the run's device.
  json j = h.query_json({});
  BOOST_TEST(j["model"]["architecture_hash"] == h.c.job.architecture_hash);
  BOOST_TEST(j["model"]["format"] == "float32");
  BOOST_TEST(j["model"]["space"] == "cnn");
  BOOST_TEST(j["model"]["stage"] == "train");
  // Float32 weight bytes as the precision stage counts them: the stored reference for C...
  BOOST_TEST(j["model"]["weight_bytes"] == 6476);
  BOOST_TEST(j["model"]["latency"]["source"] == "predicted");
  auto device = create_device(narrow::test::built_plugins(), "analytic",
                              {{"preset", "raspberry_pi_3b_plus"}});
  const double predicted = *device->predict(h.c.arch, analyse(h.c.arch));
  BOOST_TEST(j["model"]["latency"]["seconds"].get<double>() == predicted);
  BOOST_TEST(j["architecture"] == h.c.arch.to_json());
  BOOST_TEST(j["rows"] == 3);

  // At most 4KiB: A (1628 bytes, counted: 2*9 + 2 + 2*64*3 + 3 = 407 parameters) and
  // B (3244) fit; B is more accurate.
  auto r = h.query({"--max", "weight_bytes=4KiB"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.find(h.b.job.architecture_hash) != std::string::npos, r.out);
  BOOST_TEST(r.out.find("cnn / train") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("0.8500") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("(measured)") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("linear") != std::string::npos, r.out);  // the architecture table
  // ...and within 1.5ms as well: A, whose 1628 bytes are its folded parameters.
  j = h.query_json({"--max", "weight_bytes=4KiB", "--max", "latency=1.5ms"});
  BOOST_TEST(j["model"]["architecture_hash"] == h.a.job.architecture_hash);
  BOOST_TEST(j["model"]["weight_bytes"] == 1628);
  BOOST_TEST(j["model"]["latency"]["seconds"] == 1e-3);
  BOOST_TEST(j["model"]["latency"]["source"] == "measured");
  // A floor on the accuracy that only C reaches, with a bound C misses: nothing; exit 1 and
  // one line.
  r = h.query({"--max", "weight_bytes=4KiB", "--min-accuracy", "0.88"});
  BOOST_TEST(r.exit_code == 1, r.out << r.err);
  BOOST_TEST(r.out.find("no stored model meets every bound") != std::string::npos, r.out);
  BOOST_TEST(lines(r.out) == 1u, r.out);
  r = h.query({"--max", "macs=10"});
  BOOST_TEST(r.exit_code == 1);
}

BOOST_AUTO_TEST_CASE(formats_and_the_selection_split) {
  const HandStore h;
  // int8 selected by validation accuracy: only B was evaluated on that split (C's int8 is
  // left out, and said so).
  auto r = h.query({"--format", "int8", "--json"});
  BOOST_TEST(r.exit_code == 0, r.err);
  json j = json::parse(r.out);
  BOOST_TEST(j["model"]["architecture_hash"] == h.b.job.architecture_hash);
  BOOST_TEST(j["model"]["weight_bytes"] == 1000);
  BOOST_TEST(j["model"]["val_accuracy"] == 0.84);
  BOOST_TEST(j["model"]["test_accuracy"] == 0.79);
  BOOST_TEST(r.err.find("1 row left out: no validation accuracy") != std::string::npos, r.err);
  // By test accuracy (reporting): C in int8.
  j = h.query_json({"--format", "int8", "--select", "test"});
  BOOST_TEST(j["model"]["architecture_hash"] == h.c.job.architecture_hash);
  BOOST_TEST(j["model"]["weight_bytes"] == 1800);
  // Any format within 2000 bytes: A float32 (1628, 0.70), B int8 (1000, 0.84), C int8
  // (1800, no validation accuracy): B int8. By test accuracy: C int8 (0.90).
  j = h.query_json({"--format", "any", "--max", "weight_bytes=2000"});
  BOOST_TEST(j["model"]["architecture_hash"] == h.b.job.architecture_hash);
  BOOST_TEST(j["model"]["format"] == "int8");
  j = h.query_json({"--format", "any", "--max", "weight_bytes=2000", "--select", "test"});
  BOOST_TEST(j["model"]["architecture_hash"] == h.c.job.architecture_hash);
  BOOST_TEST(j["model"]["format"] == "int8");
  // A family of formats: every 8-bit format's rows (int8 here), the same answer as int8; no
  // 16-bit format was evaluated, which is said with the families allowed.
  j = h.query_json({"--format", "8-bit", "--select", "test"});
  BOOST_TEST(j["model"]["architecture_hash"] == h.c.job.architecture_hash);
  BOOST_TEST(j["model"]["format"] == "int8");
  BOOST_TEST(j["rows"] == h.query_json({"--format", "int8", "--select", "test"})["rows"]);
  r = h.query({"--format", "16-bit"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("no stored model was evaluated in that family (formats of this store: "
                        "float32, int8; or a family: 16-bit, 8-bit, below 8 bits; or any)") !=
                 std::string::npos,
             r.err);
}

BOOST_AUTO_TEST_CASE(fronts_of_accuracy_against_a_metric) {
  const HandStore h;
  // Every format by test accuracy: B int8 (1000, 0.79), C int8 (1800, 0.90), C float32
  // (6476, 0.91); A (1628, 0.68) and B float32 (3244, 0.80) are dominated.
  json j = h.query_json({"--front", "weight_bytes", "--format", "any", "--select", "test"});
  BOOST_REQUIRE(j["front"].size() == 3u);
  BOOST_TEST(j["front"][0]["architecture_hash"] == h.b.job.architecture_hash);
  BOOST_TEST(j["front"][0]["format"] == "int8");
  BOOST_TEST(j["front"][1]["architecture_hash"] == h.c.job.architecture_hash);
  BOOST_TEST(j["front"][1]["format"] == "int8");
  BOOST_TEST(j["front"][2]["architecture_hash"] == h.c.job.architecture_hash);
  BOOST_TEST(j["front"][2]["format"] == "float32");
  // Float32 against MACs (2*576, 4*576, 8*576 plus 3*64*C for the classifier): each more
  // accurate than the cheaper ones, so all three.
  j = h.query_json({"--front", "macs"});
  BOOST_TEST(j["front"].size() == 3u);
  // The text form names the front and lists a line per point.
  const auto r = h.query({"--front", "weight_bytes", "--format", "any", "--select", "test"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(
      r.out.find("Pareto front of test accuracy against weight_bytes: 3 of 5") != std::string::npos,
      r.out);
  BOOST_TEST(lines(r.out) == 5u, r.out);
}

BOOST_AUTO_TEST_CASE(bad_input_is_one_line_and_exit_2) {
  const HandStore h;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--max", "weight_bytes"}, "must be METRIC=VALUE"},
      {{"--max", "weight_bytes=abc"}, "--max 'weight_bytes=abc'"},
      {{"--max", "latency=4KiB"}, "'latency' is a time"},
      {{"--max", "volume=3"}, "unknown metric 'volume'"},
      {{"--front", "volume"}, "unknown metric 'volume'"},
      {{"--format", "half"}, "formats of this store: float32, int8"},
      {{"--select", "train"}, "--select 'train'"},
      {{"--min-accuracy", "1.5"}, "--min-accuracy"},
  };
  for (const auto& [args, says] : cases) {
    const auto r = h.query(args);
    BOOST_TEST(r.exit_code == 2, args.front() << " " << args.back());
    BOOST_TEST(r.err.find(says) != std::string::npos, r.err);
    BOOST_TEST(lines(r.err) == 1u, r.err);
  }
  // No store.
  auto r = run_narrow({"query", h.file("missing.db")});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("does not exist") != std::string::npos, r.err);
  // A store without latencies and without a device: a latency bound cannot be checked.
  const std::string bare = h.file("bare.db");
  {
    auto s = Store::open(bare);
    train(*s, 2, 0.5, 0.5);
  }
  r = run_narrow({"query", bare, "--max", "latency=2ms"});
  BOOST_TEST(r.exit_code == 2);
  BOOST_TEST(r.err.find("no latency measurement") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("names no device") != std::string::npos, r.err);
  BOOST_TEST(lines(r.err) == 1u, r.err);
  // The float32 row of a model without precision evaluations counts the folded parameters.
  const json j = json::parse(run_narrow({"query", bare, "--json"}).out);
  BOOST_TEST(j["model"]["weight_bytes"] == 1628);
  BOOST_TEST(j["model"]["latency"].is_null());
}
