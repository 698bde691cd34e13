// Devices and the latency predictor: the fit recovers known coefficients from synthetic data,
// non-negative least squares keeps its constraint, calibration files round-trip and bad ones
// are refused with the file and the problem, batch norm folding, the analytic roofline against
// a hand computation, and a short real measurement on the host.
#define BOOST_TEST_MODULE device
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <array>
#include <nlohmann/json.hpp>

#include "narrow/architecture.hpp"
#include "narrow/device.hpp"
#include "narrow/latency_model.hpp"
#include "narrow/errors.hpp"
#include "run/loader.hpp"
#include "narrow/metrics.hpp"
#include "narrow/registry.hpp"
#include "support/plugins.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

narrow::Registry& registry() {
  return narrow::test::built_plugins();
}

/// Ends a network with global pooling of `last`, flatten and a linear classifier; finalizes.
void add_classifier(narrow::Architecture& a, const std::string& last) {
  a.add(narrow::Layer{.id = "gap", .op = narrow::Op::global_avgpool, .inputs = {last}});
  a.add(narrow::Layer{.id = "flat", .op = narrow::Op::flatten, .inputs = {"gap"}});
  narrow::Layer fc{.id = "fc", .op = narrow::Op::linear, .inputs = {"flat"}};
  fc.out_channels = a.classes();
  a.add(fc);
  a.set_output("fc");
  a.finalize();
}

/// A conv (+ optional batch norm) + relu + global pool + linear network on [c,h,w].
narrow::Architecture small_net(std::int64_t c, std::int64_t hw, std::int64_t filters,
                               bool batchnorm = true) {
  narrow::Architecture a({c, hw, hw}, 10);
  narrow::Layer conv{.id = "conv", .op = narrow::Op::conv2d, .inputs = {"input"}};
  conv.out_channels = filters;
  conv.kernel = {3, 3};
  conv.padding = {1, 1};
  conv.bias = false;
  a.add(conv);
  std::string last = "conv";
  if (batchnorm) {
    a.add(narrow::Layer{.id = "bn", .op = narrow::Op::batchnorm, .inputs = {"conv"}});
    last = "bn";
  }
  a.add(narrow::Layer{.id = "relu", .op = narrow::Op::relu, .inputs = {last}});
  add_classifier(a, "relu");
  return a;
}

fs::path temp_file(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "narrow_device_test";
  fs::create_directories(dir);
  return dir / name;
}

narrow::Calibration example_calibration() {
  narrow::Calibration c;
  c.device = {{"name", "host"}, {"parameters", {{"runs", "3"}}}, {"cpu", "test cpu"}};
  c.options.runs = 3;
  c.model.features = {"constant", "macs", "elementwise_bytes"};
  c.model.coefficients = {2e-5, 3e-11, 0.0};
  c.samples = 10;
  c.training = narrow::FitStatistics::of({1.0, 2.0, 3.1}, {1.0, 2.0, 3.0});
  c.held_out = narrow::FitStatistics::of({1.2, 1.9}, {1.0, 2.0});
  c.noise_cv_median = 0.012;
  c.spaces = {"sequential", "resnet"};
  c.seed = 18446744073709551615ULL;  // the largest seed survives (kept as text)
  c.date = "2024-01-02T03:04:05Z";
  return c;
}

/// The first line of an InputError thrown by loading `text` as a calibration file.
std::string load_error(const std::string& text) {
  const fs::path p = temp_file("bad.json");
  std::ofstream(p) << text;
  try {
    narrow::Calibration::load(p.string());
  } catch (const narrow::InputError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

BOOST_AUTO_TEST_CASE(fit_recovers_known_coefficients) {
  // Latency = 2e-5 + 3e-11 macs + 4e-10 linear_macs + 1e-6 ops over models spanning five orders
  // of magnitude; the fit must give the coefficients back.
  const std::vector<std::string> features{"constant", "macs", "linear_macs", "ops"};
  const std::vector<double> truth{2e-5, 3e-11, 4e-10, 1e-6};
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> log_macs(3, 9), ops(2, 200), lin(2, 6);
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 60; ++i) {
    x.push_back({1.0, std::pow(10.0, log_macs(gen)), std::pow(10.0, lin(gen)), std::floor(ops(gen))});
    double t = 0;
    for (std::size_t k = 0; k < truth.size(); ++k) t += truth[k] * x.back()[k];
    y.push_back(t);
  }
  const auto model = narrow::LatencyModel::fit(features, x, y);
  BOOST_REQUIRE_EQUAL(model.coefficients.size(), truth.size());
  for (std::size_t k = 0; k < truth.size(); ++k)
    BOOST_TEST(model.coefficients[k] == truth[k], boost::test_tools::tolerance(1e-6));
  std::vector<double> predicted;
  for (const auto& row : x) predicted.push_back(model.predict(row));
  const auto stats = narrow::FitStatistics::of(predicted, y);
  BOOST_TEST(stats.r2 > 0.999999);
  BOOST_TEST(stats.median_abs_pct_error < 1e-6);
  BOOST_TEST(stats.within_10pct == 1.0);
}

BOOST_AUTO_TEST_CASE(fit_with_noise_stays_close) {
  // 2 % multiplicative noise: coefficients within a few percent.
  const std::vector<std::string> features{"constant", "macs"};
  std::mt19937_64 gen(11);
  std::uniform_real_distribution<double> log_macs(4, 9);
  std::normal_distribution<double> noise(0, 0.02);
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (int i = 0; i < 400; ++i) {
    x.push_back({1.0, std::pow(10.0, log_macs(gen))});
    y.push_back((1e-4 + 5e-11 * x.back()[1]) * (1 + noise(gen)));
  }
  const auto model = narrow::LatencyModel::fit(features, x, y);
  BOOST_TEST(model.coefficients[0] == 1e-4, boost::test_tools::tolerance(0.03));
  BOOST_TEST(model.coefficients[1] == 5e-11, boost::test_tools::tolerance(0.03));
}

BOOST_AUTO_TEST_CASE(nonnegative_least_squares_keeps_the_constraint) {
  // b = 2 a0 - 1 a1: the unconstrained solution has a negative coefficient; NNLS gives the
  // best non-negative one, which here is x1 = 0 and x0 = (a0 . b) / (a0 . a0).
  const std::vector<double> a{1, 0, 1, 1, 1, 2, 1, 3};  // rows (1,0), (1,1), (1,2), (1,3)
  const std::vector<double> b{2, 1, 0, -1};
  const auto x = narrow::nonnegative_least_squares(a, 4, 2, b);
  BOOST_TEST(x[1] == 0.0);
  BOOST_TEST(x[0] == 0.5, boost::test_tools::tolerance(1e-12));
  // Without an active constraint it is plain least squares.
  const std::vector<double> b2{1, 3, 5, 7};  // 1 + 2 t
  const auto x2 = narrow::nonnegative_least_squares(a, 4, 2, b2);
  BOOST_TEST(x2[0] == 1.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(x2[1] == 2.0, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(fit_refuses_bad_data) {
  const std::vector<std::string> f{"constant", "macs"};
  BOOST_CHECK_THROW(narrow::LatencyModel::fit(f, {{1, 1}}, {1.0}), narrow::InputError);
  BOOST_CHECK_THROW(narrow::LatencyModel::fit(f, {{1, 1}, {1, 2}}, {1.0, 0.0}),
                    narrow::InputError);
  BOOST_CHECK_THROW(narrow::LatencyModel::fit({"constant", "no_such_feature"}, {{1, 1}, {1, 2}},
                                              {1.0, 2.0}),
                    narrow::InputError);
  BOOST_CHECK_THROW(narrow::check_latency_features({"macs", "macs"}), narrow::InputError);
}

BOOST_AUTO_TEST_CASE(fit_statistics) {
  const auto s = narrow::FitStatistics::of({1.05, 2.5, 2.9, 4.0}, {1.0, 2.0, 3.0, 4.0});
  BOOST_TEST(s.count == 4);
  BOOST_TEST(s.within_10pct == 0.75);
  // errors 5 %, 25 %, 3.33 %, 0 %: the median is (3.33 + 5) / 2.
  BOOST_TEST(s.median_abs_pct_error == (5 + 100.0 / 30) / 2, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(s.max_abs_pct_error == 25.0, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(s.r2 < 1.0);
}

BOOST_AUTO_TEST_CASE(calibration_round_trip) {
  const narrow::Calibration c = example_calibration();
  const fs::path p = temp_file("calibration.json");
  c.save(p.string());
  const narrow::Calibration back = narrow::Calibration::load(p.string());
  BOOST_TEST(back.to_json() == c.to_json());
  BOOST_TEST(back.seed == c.seed);
  BOOST_TEST(back.model.features == c.model.features);
  BOOST_TEST(back.model.coefficients == c.model.coefficients);
  BOOST_TEST(back.held_out.within_10pct == c.held_out.within_10pct);
  BOOST_TEST(back.options.runs == 3);
  BOOST_TEST(!fs::exists(p.string() + ".partial"));
  // The model predicts the same from the file as before.
  const auto arch = small_net(3, 16, 8);
  BOOST_TEST(back.model.predict(arch) == c.model.predict(arch));
  BOOST_TEST(back.fit == "totals");
  // A layered calibration keeps its method and its many features.
  narrow::Calibration layered = c;
  layered.fit = "layers";
  layered.model.features = narrow::layered_latency_features();
  layered.model.coefficients.assign(layered.model.features.size(), 0.0);
  layered.model.coefficients[0] = 1e-5;
  layered.model.coefficients[3] = 2e-11;
  layered.save(p.string());
  const narrow::Calibration layered_back = narrow::Calibration::load(p.string());
  BOOST_TEST(layered_back.fit == "layers");
  BOOST_TEST(layered_back.to_json() == layered.to_json());
  BOOST_TEST(layered_back.model.predict(arch) == layered.model.predict(arch));
}

BOOST_AUTO_TEST_CASE(bad_calibration_files) {
  json good = example_calibration().to_json();
  auto with = [&](const char* key, json value) {
    json j = good;
    j[key] = std::move(value);
    return j.dump();
  };
  auto without = [&](const char* key) {
    json j = good;
    j.erase(key);
    return j.dump();
  };
  const std::string file = temp_file("bad.json").string();
  std::string e = load_error("{\"format\": \"narrow-calibration\",\n  \"version\": 1,,}");
  BOOST_TEST(e.find(file + ":2:") == 0, e);
  BOOST_TEST(e.find("not valid JSON") != std::string::npos, e);
  e = load_error(without("coefficients"));
  BOOST_TEST(e.find(file) == 0, e);
  BOOST_TEST(e.find("'coefficients' is missing") != std::string::npos, e);
  e = load_error(with("coefficients", json::array({1e-5, 2e-11})));
  BOOST_TEST(e.find("2 coefficients for 3 features") != std::string::npos, e);
  e = load_error(with("coefficients", json::array({1e-5, -2e-11, 0})));
  BOOST_TEST(e.find("not a finite number >= 0") != std::string::npos, e);
  e = load_error(with("features", json::array({"constant", "macs", "bogus"})));
  BOOST_TEST(e.find("unknown latency feature 'bogus'") != std::string::npos, e);
  e = load_error(with("format", "something else"));
  BOOST_TEST(e.find("not 'narrow-calibration'") != std::string::npos, e);
  e = load_error(with("version", 7));
  BOOST_TEST(e.find("version 7 is not supported") != std::string::npos, e);
  e = load_error(with("held_out", json{{"count", 2}}));
  BOOST_TEST(e.find("'held_out.r2' is missing") != std::string::npos, e);
  e = load_error("[1, 2]");
  BOOST_TEST(e.find("one JSON object") != std::string::npos, e);
  for (const auto& msg : {load_error(without("date")), load_error(with("samples", "many"))})
    BOOST_TEST(msg.find('\n') == std::string::npos, msg);
  BOOST_CHECK_THROW(narrow::Calibration::load(temp_file("does_not_exist.json").string()),
                    narrow::InputError);
}

BOOST_AUTO_TEST_CASE(batchnorm_folding) {
  const auto a = small_net(3, 8, 4, true);
  const auto folded = narrow::fold_batchnorm(a);
  BOOST_TEST(folded.layers().size() == a.layers().size() - 1);
  BOOST_TEST(folded.layers()[0].bias);  // the conv took the batch norm's shift
  BOOST_TEST(folded.layers()[1].inputs == std::vector<std::string>{"conv"});
  BOOST_TEST(narrow::analyse(folded).macs == narrow::analyse(a).macs);
  // Nothing to fold: the same network.
  const auto plain = small_net(3, 8, 4, false);
  BOOST_TEST(narrow::fold_batchnorm(plain).hash() == plain.hash());
  // A batch norm after a conv that has another reader stays.
  narrow::Architecture b({3, 8, 8}, 4);
  narrow::Layer conv{.id = "c", .op = narrow::Op::conv2d, .inputs = {"input"}};
  conv.out_channels = 3;
  conv.kernel = {3, 3};
  conv.padding = {1, 1};
  b.add(conv);
  b.add(narrow::Layer{.id = "bn", .op = narrow::Op::batchnorm, .inputs = {"c"}});
  b.add(narrow::Layer{.id = "sum", .op = narrow::Op::add, .inputs = {"bn", "c"}});
  add_classifier(b, "sum");
  BOOST_TEST(narrow::fold_batchnorm(b).layers().size() == b.layers().size());
}

BOOST_AUTO_TEST_CASE(latency_features_of_a_small_network) {
  const auto a = small_net(3, 8, 4, true);
  const auto f = narrow::latency_features(
      a, {"constant", "ops", "conv_macs", "conv_gemm_macs", "im2col_bytes", "linear_macs",
          "elementwise_bytes", "macs"});
  BOOST_TEST(f[0] == 1.0);
  BOOST_TEST(f[1] == 4.0);  // conv, relu, gap, fc: the batch norm is folded, flatten is a view
  BOOST_TEST(f[2] == 0.0);  // a 3x3 conv on 192 values runs as im2col + GEMM
  BOOST_TEST(f[3] == 4.0 * 8 * 8 * 3 * 9);
  BOOST_TEST(f[4] == 4.0 * 3 * 9 * 8 * 8);
  BOOST_TEST(f[5] == 40.0);
  // relu reads and writes 4x8x8, gap reads 4x8x8 and writes 4: float32 bytes.
  BOOST_TEST(f[6] == 4.0 * (256 + 256 + 256 + 4));
  BOOST_TEST(f[7] == double(narrow::analyse(a).macs));
}

BOOST_AUTO_TEST_CASE(layer_kinds_of_a_small_network) {
  const auto folded = narrow::fold_batchnorm(small_net(3, 8, 4, true));
  const auto rows = narrow::layer_latency_features(folded);
  std::vector<std::string> kinds;
  for (const auto& r : rows) kinds.push_back(r.kind);
  // conv (batch norm folded into it), relu, global pool, flatten, linear.
  BOOST_TEST(kinds == (std::vector<std::string>{"conv_gemm", "elementwise", "global_avgpool",
                                                "elementwise", "linear"}));
  // conv_gemm: layers, macs, weights, im2col, inputs, outputs, vector_blocks, vector_tails.
  const double weights = 4.0 * 3 * 9, positions = 64;
  BOOST_TEST(rows[0].values == (std::vector<double>{1, weights * positions, weights,
                                                    3.0 * 9 * positions, 3.0 * 64, 4.0 * 64,
                                                    weights * 8, 0}));
  // linear: layers, macs, inputs, outputs, macs_over_128_inputs (4 inputs: none).
  BOOST_TEST(rows[4].values == (std::vector<double>{1, 40, 4, 10, 0}));
  // Every kind's row has as many values as the kind has features, and the summed features
  // of an architecture are the sums of its rows.
  for (const auto& r : rows) {
    bool found = false;
    for (const auto& [kind, features] : narrow::layer_kinds())
      if (kind == r.kind) {
        found = true;
        BOOST_TEST(r.values.size() == features.size(), r.kind);
      }
    BOOST_TEST(found, r.kind);
  }
  const auto sums = narrow::latency_features(
      small_net(3, 8, 4, true), {"conv_gemm.macs", "elementwise.layers", "elementwise.inputs"});
  BOOST_TEST(sums == (std::vector<double>{weights * positions, 2, 4.0 * 64 + 4}));
  // Padding taps: a 5x5 kernel with padding 2 on 4x4 reads fewer valid taps than 25 per output.
  narrow::Architecture a({32, 4, 4}, 10);
  narrow::Layer conv{.id = "conv", .op = narrow::Op::conv2d, .inputs = {"input"}};
  conv.out_channels = 16;
  conv.kernel = {5, 5};
  conv.padding = {2, 2};
  a.add(conv);
  add_classifier(a, "conv");
  const auto direct = narrow::layer_latency_features(a).front();
  BOOST_TEST(direct.kind == "conv_direct");  // both kernel sides above 3
  // Valid taps per axis over the 4 outputs: 3 + 4 + 4 + 3 = 14; 14² in 2-D.
  BOOST_TEST(direct.values[1] == 14.0 * 14 * 32 * 16);
  // Blocked weights: 32 × 16 × 25 = 12800 floats, far below 1 MiB.
  BOOST_TEST(direct.values[3] == 32.0 * 16 * 25);
  BOOST_TEST(direct.values[8] == 0.0);
}

// One convolution of `in` channels on an h × w input (then a classifier): its row.
narrow::LayerFeatures conv_row(std::int64_t in, std::int64_t h, std::int64_t w, std::int64_t out,
                               std::array<std::int64_t, 2> kernel,
                               std::array<std::int64_t, 2> padding) {
  narrow::Architecture a({in, h, w}, 10);
  narrow::Layer conv{.id = "conv", .op = narrow::Op::conv2d, .inputs = {"input"}};
  conv.out_channels = out;
  conv.kernel = kernel;
  conv.padding = padding;
  a.add(conv);
  add_classifier(a, "conv");
  return narrow::layer_latency_features(a).front();
}

BOOST_AUTO_TEST_CASE(direct_convolution_rules) {
  // Fewer than 16 input channels stay unblocked; output channels are blocked by 16.
  const auto rgb = conv_row(3, 64, 64, 20, {5, 5}, {2, 2});
  BOOST_TEST(rgb.kind == "conv_direct");
  BOOST_TEST(rgb.values[3] == 3.0 * 32 * 25);        // blocked_weights
  BOOST_TEST(rgb.values[4] == 3.0 * 64 * 64);        // blocked_inputs
  BOOST_TEST(rgb.values[5] == 32.0 * 64 * 64);       // blocked_outputs
  const auto wide = conv_row(17, 64, 64, 16, {5, 5}, {2, 2});
  BOOST_TEST(wide.values[3] == 32.0 * 16 * 25);
  // Blocked weights beyond 1 MiB (262144 floats): 512 × 512 × 3 × 3 = 2359296.
  const auto heavy = conv_row(512, 8, 8, 512, {3, 3}, {1, 1});  // 32768 inputs: direct
  BOOST_TEST(heavy.kind == "conv_direct");
  BOOST_TEST(heavy.values[8] == 2359296.0 - 262144);
  // Padding wider than the output row, on the left or on the right: oneDNN's im2col path.
  // 7 wide kernel, padding 3, on a 2 wide input: 2 outputs, right padding 3 + ... > 2.
  const auto narrow_left = conv_row(32, 14, 2, 16, {5, 7}, {2, 3});
  BOOST_TEST(narrow_left.kind == "conv_narrow");
  BOOST_TEST(narrow_left.values == (std::vector<double>{1, 2.0 * 14 * 16 * 32 * 35}));
  // Width 4, kernel 7, padding 3: 4 outputs; neither padding exceeds them: direct.
  BOOST_TEST(conv_row(32, 14, 4, 16, {5, 7}, {2, 3}).kind == "conv_direct");
}

BOOST_AUTO_TEST_CASE(linear_rows_longer_than_128_inputs) {
  narrow::Architecture a(narrow::Shape{.c = 300, .flat = true}, 10);
  narrow::Layer fc{.id = "fc", .op = narrow::Op::linear, .inputs = {"input"}};
  fc.out_channels = 10;
  a.add(fc);
  a.set_output("fc");
  a.finalize();
  const auto rows = narrow::layer_latency_features(a);
  BOOST_TEST(rows.back().kind == "linear");
  BOOST_TEST(rows.back().values == (std::vector<double>{1, 3000, 300, 10, 10.0 * 172}));
}

/// Synthetic layers of every kind with random feature values, timed by known laws.
struct SyntheticLayers {
  std::vector<std::vector<narrow::LayerFeatures>> layers;
  std::vector<std::vector<double>> seconds;
  std::vector<double> y;
};

SyntheticLayers synthetic_layers(std::size_t networks, double context, double constant,
                                 const std::map<std::string, std::vector<double>>& laws,
                                 std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> value(1, 1000);
  std::uniform_int_distribution<std::size_t> pick(0, laws.size() - 1), count(3, 12);
  SyntheticLayers s;
  for (std::size_t n = 0; n < networks; ++n) {
    std::vector<narrow::LayerFeatures> rows;
    std::vector<double> seconds;
    double total = 0;
    for (std::size_t l = count(rng); l > 0; --l) {
      auto it = laws.begin();
      std::advance(it, std::ptrdiff_t(pick(rng)));
      narrow::LayerFeatures r{it->first, {1.0}};
      double t = it->second[0];
      for (std::size_t k = 1; k < it->second.size(); ++k) {
        r.values.push_back(value(rng));
        t += it->second[k] * r.values.back();
      }
      rows.push_back(r);
      seconds.push_back(t);
      total += t;
    }
    s.layers.push_back(rows);
    s.seconds.push_back(seconds);
    s.y.push_back(context * total + constant);
  }
  return s;
}

/// Features of a layered model for synthetic layers: "constant" and the sums of every kind.
std::vector<double> layered_values(const std::vector<narrow::LayerFeatures>& rows) {
  std::vector<double> v(narrow::layered_latency_features().size(), 0.0);
  v[0] = 1;
  for (const auto& r : rows) {
    std::size_t at = 1;
    for (const auto& [kind, features] : narrow::layer_kinds()) {
      if (kind == r.kind)
        for (std::size_t k = 0; k < features.size(); ++k) v[at + k] += r.values[k];
      at += features.size();
    }
  }
  return v;
}

BOOST_AUTO_TEST_CASE(layered_fit_recovers_known_laws) {
  // Three kinds with known laws (seconds per unit of each feature), the others never drawn.
  std::map<std::string, std::vector<double>> laws;
  for (const auto& [kind, features] : narrow::layer_kinds()) {
    if (kind != "conv_gemm" && kind != "linear" && kind != "elementwise") continue;
    std::vector<double> law(features.size());
    for (std::size_t k = 0; k < law.size(); ++k) law[k] = 1e-6 * double(k % 3) + 1e-7;
    laws[kind] = law;
  }
  // The networks take 1.25 times their layers' sum plus 20 µs: what stage 2 must find.
  const auto train = synthetic_layers(120, 1.25, 2e-5, laws, 7);
  std::vector<std::string> unseen;
  const auto model = narrow::LatencyModel::fit_layers(train.layers, train.seconds, train.y,
                                                      &unseen);
  BOOST_TEST(model.features == narrow::layered_latency_features());
  BOOST_TEST(unseen.size() == narrow::layer_kinds().size() - 3);
  BOOST_TEST(model.coefficients[0] == 2e-5, boost::test_tools::tolerance(1e-6));
  std::size_t at = 1;
  for (const auto& [kind, features] : narrow::layer_kinds()) {
    for (std::size_t k = 0; k < features.size(); ++k, ++at) {
      const double expected = laws.count(kind) ? 1.25 * laws.at(kind)[k] : 0.0;
      BOOST_TEST(model.coefficients[at] == expected, boost::test_tools::tolerance(1e-6));
    }
  }
  // Networks it has not seen are predicted exactly.
  const auto test = synthetic_layers(20, 1.25, 2e-5, laws, 8);
  for (std::size_t i = 0; i < test.y.size(); ++i)
    BOOST_TEST(model.predict(layered_values(test.layers[i])) == test.y[i],
               boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(layered_fit_of_a_rare_kind_and_bad_data) {
  // A kind with fewer layers than features is fitted on its "layers" feature: its mean time.
  std::vector<std::vector<narrow::LayerFeatures>> layers;
  std::vector<std::vector<double>> seconds;
  std::vector<double> y;
  for (int n = 0; n < 6; ++n) {
    layers.push_back({{"elementwise", {1, 10.0 + n, 10.0 + n}}});
    seconds.push_back({1e-6 * (1 + n)});
    if (n == 0) {  // one concat layer in the first network only
      layers.back().push_back({"concat", {1, 5, 5}});
      seconds.back().push_back(4e-6);
    }
    double total = 0;
    for (double t : seconds.back()) total += t;
    y.push_back(total);
  }
  const auto model = narrow::LatencyModel::fit_layers(layers, seconds, y);
  const auto& f = model.features;
  const auto at = [&](const std::string& name) {
    return model.coefficients[std::size_t(std::find(f.begin(), f.end(), name) - f.begin())];
  };
  BOOST_TEST(at("concat.inputs") == 0.0);
  BOOST_TEST(at("concat.layers") > 0.0);
  // Layer counts that do not match, and non-positive latencies, are bad input.
  auto short_times = seconds;
  short_times[2].clear();
  BOOST_CHECK_THROW(narrow::LatencyModel::fit_layers(layers, short_times, y), narrow::InputError);
  auto zero = y;
  zero[1] = 0;
  BOOST_CHECK_THROW(narrow::LatencyModel::fit_layers(layers, seconds, zero), narrow::InputError);
  // Too few networks for the kinds seen and the constant.
  BOOST_CHECK_THROW(narrow::LatencyModel::fit_layers({layers[0], layers[1]},
                                                     {seconds[0], seconds[1]}, {y[0], y[1]}),
                    narrow::InputError);
}

BOOST_AUTO_TEST_CASE(analytic_presets) {
  auto& reg = registry();
  auto pi = narrow::create_device(reg, "analytic", {{"preset", "raspberry_pi_3b_plus"}});
  auto mcu = narrow::create_device(reg, "analytic", {{"preset", "stm32f746"}});
  BOOST_TEST(pi->predicts());
  BOOST_TEST(!pi->measures());
  BOOST_TEST(pi->ram_bytes() == 1024LL * 1024 * 1024);
  BOOST_TEST(mcu->ram_bytes() == 320LL * 1024);
  BOOST_TEST(mcu->flash_bytes() == 1024LL * 1024);
  BOOST_CHECK_THROW(pi->measure(small_net(3, 8, 4), {}), narrow::Error);
  // More filters, more work: predictions grow with MACs, and the microcontroller is slower.
  double last = 0;
  for (std::int64_t filters : {1, 4, 16, 64, 256}) {
    const auto a = small_net(3, 32, filters);
    const double t = *pi->predict(a, narrow::analyse(a));
    BOOST_TEST(t > last);
    BOOST_TEST(*mcu->predict(a, narrow::analyse(a)) > t);
    last = t;
  }
}

BOOST_AUTO_TEST_CASE(analytic_roofline_by_hand) {
  // A device description of round numbers and a tiny network, computed by hand.
  const fs::path p = temp_file("device.yaml");
  std::ofstream(p) << "name: round\nram: 64KiB\nflash: 256KiB\npeak_gflops: 1\n"
                      "bandwidth_gb_per_s: 1\nlayer_overhead: 1us\nbits: 32\n";
  auto d = narrow::create_device(registry(), "analytic", {{"description", p.string()}});
  BOOST_TEST(d->ram_bytes() == 65536);
  BOOST_TEST(d->flash_bytes() == 262144);
  const auto a = small_net(3, 8, 4, true);  // conv 3x3 (bn folded: bias), relu, gap, fc
  // conv: 2*4*64*27 + 4*64 (bias) = 14080 flops; bytes (192 + 256 + 4*27 + 4) * 4 = 2240.
  const double conv = std::max(14080e-9, 2240e-9) + 1e-6;
  // relu: 256 flops; (256 + 256) * 4 = 2048 bytes.
  const double relu = std::max(256e-9, 2048e-9) + 1e-6;
  // gap: 256 flops; (256 + 4) * 4 = 1040 bytes.
  const double gap = std::max(256e-9, 1040e-9) + 1e-6;
  // fc: 2*4*10 + 10 = 90 flops; (4 + 10 + 40 + 10) * 4 = 256 bytes.
  const double fc = std::max(90e-9, 256e-9) + 1e-6;
  BOOST_TEST(*d->predict(a, narrow::analyse(a)) == conv + relu + gap + fc,
             boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(bad_device_description) {
  const fs::path p = temp_file("bad_device.yaml");
  std::ofstream(p) << "name: x\npeak_gflops: 1\nbandwidth_gb_per_s: fast\n";
  try {
    narrow::create_device(registry(), "analytic", {{"description", p.string()}});
    BOOST_FAIL("no error");
  } catch (const narrow::InputError& e) {
    const std::string m = e.what();
    BOOST_TEST(m.find(p.string() + ":3:") == 0, m);
    BOOST_TEST(m.find("'bandwidth_gb_per_s' must be a number") != std::string::npos, m);
  }
  std::ofstream(p) << "name: x\npeak_gflops: 1\nbandwidth_gb_per_s: 1\nspeed: 3\n";
  try {
    narrow::create_device(registry(), "analytic", {{"description", p.string()}});
    BOOST_FAIL("no error");
  } catch (const narrow::InputError& e) {
    const std::string m = e.what();
    BOOST_TEST(m.find(p.string() + ":4:1") == 0, m);
    BOOST_TEST(m.find("unknown key 'speed'") != std::string::npos, m);
  }
  std::ofstream(p) << "name: x\nbandwidth_gb_per_s: 1\n";
  BOOST_CHECK_THROW(narrow::create_device(registry(), "analytic", {{"description", p.string()}}),
                    narrow::InputError);
}

BOOST_AUTO_TEST_CASE(host_measures_a_tiny_model) {
  auto host = narrow::create_device(registry(), "host", {{"runs", "3"}, {"warmup", "1"}});
  BOOST_TEST(host->measures());
  BOOST_TEST(!host->predicts());
  BOOST_TEST(host->ram_bytes() > 0);
  BOOST_TEST(host->flash_bytes() == 0);
  auto options = host->latency_options();
  BOOST_TEST(options.runs == 3);
  BOOST_TEST(options.threads == 1);
  const auto m = host->measure(small_net(3, 16, 8), options);
  BOOST_TEST(m.mean > 0);
  BOOST_TEST(m.median > 0);
  BOOST_TEST(m.runs == 3);
  BOOST_TEST(m.times.size() == 3u);
  BOOST_TEST(m.threads == 1);
  BOOST_TEST(m.cv >= 0);
  BOOST_TEST(m.repeats >= 0);
  BOOST_TEST(m.repeats <= options.max_repeats);
  BOOST_TEST(!m.cpu.empty());
  BOOST_TEST(m.inferences_per_run >= 1);
  BOOST_TEST(m.layer_seconds.empty());  // layer times only when asked for
  // The measurement round-trips through JSON.
  const auto back = narrow::LatencyMeasurement::from_json(m.to_json());
  BOOST_TEST(back.to_json() == m.to_json());
  // With layer times: one per layer of the folded network (the batch norm is gone).
  options.layers = true;
  const auto timed = host->measure(small_net(3, 16, 8), options);
  BOOST_TEST(timed.layer_seconds.size() == 5u);
  for (double t : timed.layer_seconds) BOOST_TEST((t >= 0 && std::isfinite(t)));
  const auto timed_back = narrow::LatencyMeasurement::from_json(timed.to_json());
  BOOST_TEST(timed_back.layer_seconds == timed.layer_seconds);
  BOOST_TEST(narrow::LatencyOptions::from_json(options.to_json()).layers);
  options.layers = false;
  // Bad options are bad input.
  options.runs = 0;
  BOOST_CHECK_THROW(host->measure(small_net(3, 16, 8), options), narrow::InputError);
  BOOST_CHECK_THROW(narrow::create_device(registry(), "host", {{"min_run_time", "3KiB"}}),
                    narrow::InputError);
}

BOOST_AUTO_TEST_CASE(calibrated_device_predicts_from_its_file) {
  const fs::path p = temp_file("calibrated.json");
  example_calibration().save(p.string());
  auto d = narrow::create_device(registry(), "calibrated", {{"calibration", p.string()}});
  BOOST_TEST(d->predicts());
  BOOST_TEST(d->measures());  // through the wrapped host
  BOOST_TEST(d->latency_options().runs == 3);
  const auto a = small_net(3, 16, 8);
  const double expected = 2e-5 + 3e-11 * double(narrow::analyse(a).macs);
  BOOST_TEST(*d->predict(a, narrow::analyse(a)) == expected, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(d->description()["device"]["name"] == "host");
  BOOST_CHECK_THROW(
      narrow::create_device(registry(), "calibrated",
                            {{"calibration", p.string()}, {"device", "analytic"}}),
      narrow::InputError);
  BOOST_CHECK_THROW(narrow::create_device(registry(), "calibrated", {}), narrow::InputError);
}
