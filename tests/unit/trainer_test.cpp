#define BOOST_TEST_MODULE trainer
#include <boost/test/unit_test.hpp>

#include <ATen/CPUGeneratorImpl.h>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "narrow/architecture.hpp"
#include "engine/builder.hpp"
#include "narrow/errors.hpp"
#include "engine/trainer.hpp"
#include "narrow/training.hpp"

namespace {

using narrow::Architecture;
using narrow::Evaluation;
using narrow::GraphModule;
using narrow::PreparedData;
using narrow::TrainingConfig;
using narrow::TrainResult;

constexpr std::int64_t side = 8;
constexpr std::int64_t classes = 3;

/// Class 0: horizontal stripes, class 1: vertical stripes, class 2: a checkerboard; each with
/// a random contrast and Gaussian noise.
narrow::ImageSet make_set(std::int64_t per_class, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> noise(0.0f, 0.35f);
  std::uniform_real_distribution<float> contrast(0.7f, 1.3f);
  narrow::ImageSet set;
  set.channels = 1;
  set.height = side;
  set.width = side;
  for (std::int64_t i = 0; i < per_class; ++i) {
    for (std::int32_t c = 0; c < classes; ++c) {
      const float k = contrast(gen);
      for (std::int64_t y = 0; y < side; ++y)
        for (std::int64_t x = 0; x < side; ++x) {
          const std::int64_t on = c == 0 ? y % 2 : c == 1 ? x % 2 : (x + y) % 2;
          set.pixels.push_back(k * (on ? 1.0f : -1.0f) + noise(gen));
        }
      set.labels.push_back(c);
    }
  }
  return set;
}

PreparedData make_data(std::int64_t train_per_class = 80) {
  PreparedData d;
  d.name = "stripes";
  d.key = "stripes-test";
  d.classes = classes;
  d.train = make_set(train_per_class, 1);
  d.validation = make_set(20, 2);
  d.test = make_set(20, 3);
  d.mean = {0.0f};
  d.stddev = {1.0f};
  return d;
}

/// conv 8@3x3 + batch norm + relu + 2x2 max pool, dropout, linear: 80 + 16 + 387 parameters.
Architecture tiny_net(double dropout = 0.2) {
  return Architecture::from_json_string(R"({"input": [1, 8, 8], "classes": 3, "layers": [
    {"id": "c1", "op": "conv2d", "inputs": ["input"], "out_channels": 8, "kernel": 3,
     "padding": 1},
    {"id": "bn1", "op": "batchnorm", "inputs": ["c1"]},
    {"id": "r1", "op": "relu", "inputs": ["bn1"]},
    {"id": "p1", "op": "maxpool", "inputs": ["r1"], "kernel": 2},
    {"id": "flat", "op": "flatten", "inputs": ["p1"]},
    {"id": "drop", "op": "dropout", "inputs": ["flat"], "p": )" +
                                        std::to_string(dropout) + R"(},
    {"id": "fc", "op": "linear", "inputs": ["drop"], "out_features": 3}],
    "output": "fc"})");
}
constexpr std::int64_t tiny_net_params = 8 * 9 + 8 + 2 * 8 + 128 * 3 + 3;

TrainingConfig small_config() {
  TrainingConfig c;
  c.epochs = 4;
  c.batch_size = 16;
  c.learning_rate = 0.05;
  return c;
}

TrainResult train(const PreparedData& data, const TrainingConfig& config, std::uint64_t seed,
                  const Architecture& arch = tiny_net()) {
  return narrow::train_model(arch, data, config, seed, 1, true, {});
}

std::vector<float> parameters_of(GraphModule& m) {
  std::vector<float> values;
  for (const auto& p : m->parameters()) {
    auto flat = p.detach().contiguous().view(-1);
    values.insert(values.end(), flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
  }
  return values;
}

void check_same(const TrainResult& a, const TrainResult& b) {
  BOOST_TEST(a.status == b.status);
  BOOST_TEST(a.iterations == b.iterations);
  BOOST_TEST(a.weights == b.weights);
  BOOST_TEST(a.test.loss == b.test.loss);
  BOOST_TEST(a.test.accuracy == b.test.accuracy);
  BOOST_TEST(a.validation.loss == b.validation.loss);
  BOOST_REQUIRE(a.history.size() == b.history.size());
  for (std::size_t i = 0; i < a.history.size(); ++i) {
    BOOST_TEST(a.history[i].train_loss == b.history[i].train_loss);
    BOOST_TEST(a.history[i].train_accuracy == b.history[i].train_accuracy);
    BOOST_TEST(a.history[i].val_loss == b.history[i].val_loss);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(learns_the_patterns_and_reports_what_it_did) {
  const PreparedData data = make_data();
  std::vector<narrow::EpochRecord> heard;
  const TrainResult r =
      narrow::train_model(tiny_net(), data, small_config(), 7, 1, false,
                          [&](const narrow::EpochRecord& e) { heard.push_back(e); });
  BOOST_TEST(r.status == "ok");
  BOOST_TEST(r.reason.empty());
  BOOST_TEST(r.epochs == 4);
  BOOST_TEST(r.iterations == 4 * 15);  // 240 images in batches of 16
  BOOST_TEST(r.parameters == tiny_net_params);
  BOOST_TEST(r.threads == 1);
  BOOST_TEST(r.weights.empty());  // keep_weights = false
  BOOST_TEST(r.architecture_hash == tiny_net().hash());
  BOOST_TEST(r.seconds > 0);
  BOOST_TEST(r.images_per_second > 0);
  BOOST_TEST(r.test.count == 60);
  BOOST_TEST(r.validation.count == 60);
  BOOST_TEST(r.test.accuracy > 0.9);
  BOOST_TEST(r.validation.accuracy > 0.9);
  BOOST_REQUIRE(r.history.size() == 4u);
  BOOST_REQUIRE(heard.size() == 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    BOOST_TEST(r.history[i].epoch == std::int64_t(i) + 1);
    BOOST_TEST(heard[i].epoch == r.history[i].epoch);
    BOOST_TEST(heard[i].val_accuracy == r.history[i].val_accuracy);
    BOOST_TEST(r.history[i].train_accuracy >= 0.0);
    BOOST_TEST(r.history[i].train_accuracy <= 1.0);
  }
  BOOST_TEST(r.history.back().train_loss < r.history.front().train_loss);
  // The final validation is the last epoch's.
  BOOST_TEST(r.validation.accuracy == r.history.back().val_accuracy);
  BOOST_TEST(r.validation.loss == r.history.back().val_loss);
}

BOOST_AUTO_TEST_CASE(same_seed_same_result_other_seed_other_result) {
  PreparedData data = make_data();
  data.augmentation.pad = 1;  // crops, flips and dropout all draw from the seed
  data.augmentation.flip = true;
  const TrainingConfig config = small_config();
  const TrainResult a = train(data, config, 11);
  const TrainResult b = train(data, config, 11);
  BOOST_TEST(!a.weights.empty());
  check_same(a, b);
  const TrainResult c = train(data, config, 12);
  BOOST_TEST(a.weights != c.weights);
  BOOST_TEST(a.history.front().train_loss != c.history.front().train_loss);
}

BOOST_AUTO_TEST_CASE(concurrent_trainings_equal_sequential_ones) {
  PreparedData data = make_data();
  data.augmentation.pad = 2;
  data.augmentation.flip = true;
  const TrainingConfig config = small_config();
  const TrainResult a = train(data, config, 21);
  const TrainResult b = train(data, config, 22);
  TrainResult pa, pb;
  std::thread ta([&] { pa = train(data, config, 21); });
  std::thread tb([&] { pb = train(data, config, 22); });
  ta.join();
  tb.join();
  check_same(a, pa);
  check_same(b, pb);
  BOOST_TEST(a.weights != b.weights);
}

BOOST_AUTO_TEST_CASE(two_threads_are_deterministic_too) {
  const PreparedData data = make_data();
  const TrainResult a = narrow::train_model(tiny_net(), data, small_config(), 31, 2, true, {});
  const TrainResult b = narrow::train_model(tiny_net(), data, small_config(), 31, 2, true, {});
  BOOST_TEST(a.threads == 2);
  check_same(a, b);
  torch::set_num_threads(1);
}

BOOST_AUTO_TEST_CASE(a_diverging_loss_fails_without_throwing) {
  const PreparedData data = make_data();
  TrainingConfig config = small_config();
  config.learning_rate = 1e6;
  config.schedule = "constant";
  config.epochs = 20;
  TrainResult r;
  BOOST_REQUIRE_NO_THROW(r = train(data, config, 3));
  BOOST_TEST(r.status == "failed");
  BOOST_TEST_MESSAGE("reason: " << r.reason);
  BOOST_TEST(r.reason.find("loss became") == 0u);
  BOOST_TEST(r.reason.find("learning rate 1e+06") != std::string::npos);
  BOOST_TEST(r.iterations < config.epochs * 15);
  BOOST_TEST(r.epochs >= 1);
  BOOST_TEST(r.parameters == tiny_net_params);
  BOOST_TEST(r.test.count == 0);  // a failed model is not evaluated
}

BOOST_AUTO_TEST_CASE(an_iteration_budget_stops_mid_epoch) {
  const PreparedData data = make_data();
  TrainingConfig config = small_config();
  config.epochs = 100;
  config.iterations = 20;  // 15 batches per epoch: one epoch and 5 batches of the next
  std::vector<narrow::EpochRecord> heard;
  const TrainResult r =
      narrow::train_model(tiny_net(), data, config, 5, 1, false,
                          [&](const narrow::EpochRecord& e) { heard.push_back(e); });
  BOOST_TEST(r.status == "ok");
  BOOST_TEST(r.iterations == 20);
  BOOST_TEST(r.epochs == 2);
  BOOST_TEST(r.history.size() == 2u);
  BOOST_TEST(heard.size() == 2u);
  BOOST_TEST(r.test.count == 60);
  // Cosine over the 20 iterations: the second epoch starts at iteration 15.
  const double expected = 0.05 * 0.5 * (1 + std::cos(std::numbers::pi * 15.0 / 20.0));
  BOOST_TEST(r.history[1].learning_rate == expected, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(label_smoothing_and_nesterov_train) {
  const PreparedData data = make_data();
  TrainingConfig config = small_config();
  config.label_smoothing = 0.1;
  config.nesterov = true;
  const TrainResult r = train(data, config, 9);
  BOOST_TEST(r.status == "ok");
  BOOST_TEST(r.test.accuracy > 0.9);
  // With smoothing the loss cannot reach 0: it stays above the entropy of the smoothed target.
  BOOST_TEST(r.history.back().train_loss > 0.1);
  const TrainResult plain = train(data, small_config(), 9);
  BOOST_TEST(plain.weights != r.weights);
}

BOOST_AUTO_TEST_CASE(schedules) {
  const PreparedData data = make_data(20);  // 60 images, 4 batches per epoch
  TrainingConfig config = small_config();
  config.epochs = 6;
  const TrainResult cosine = train(data, config, 1);
  BOOST_REQUIRE(cosine.history.size() == 6u);
  BOOST_TEST(cosine.history[0].learning_rate == 0.05);
  for (std::size_t i = 1; i < cosine.history.size(); ++i)
    BOOST_TEST(cosine.history[i].learning_rate < cosine.history[i - 1].learning_rate);

  config.schedule = "step";
  config.step_epochs = 2;
  config.gamma = 0.1;
  const TrainResult step = train(data, config, 1);
  const std::vector<double> expected{0.05, 0.05, 0.005, 0.005, 0.0005, 0.0005};
  BOOST_REQUIRE(step.history.size() == 6u);
  for (std::size_t i = 0; i < 6; ++i)
    BOOST_TEST(step.history[i].learning_rate == expected[i], boost::test_tools::tolerance(1e-12));

  config.schedule = "constant";
  const TrainResult constant = train(data, config, 1);
  for (const auto& e : constant.history) BOOST_TEST(e.learning_rate == 0.05);

  config.schedule = "linear";
  BOOST_CHECK_THROW(train(data, config, 1), narrow::InputError);
}

BOOST_AUTO_TEST_CASE(evaluation_confusion_matrix_agrees_with_accuracy) {
  const PreparedData data = make_data();
  GraphModule module(nullptr);
  narrow::train_model(tiny_net(), data, small_config(), 4, 1, false, {}, &module);
  BOOST_REQUIRE(!module.is_empty());
  for (std::int64_t batch : {7, 256}) {
    const Evaluation e = narrow::evaluate(module, data.test, classes, batch);
    BOOST_TEST(e.count == 60);
    BOOST_REQUIRE(e.confusion.size() == std::size_t(classes));
    std::int64_t total = 0, diagonal = 0;
    for (std::size_t t = 0; t < e.confusion.size(); ++t) {
      BOOST_REQUIRE(e.confusion[t].size() == std::size_t(classes));
      std::int64_t row = 0;
      for (std::size_t p = 0; p < e.confusion[t].size(); ++p) row += e.confusion[t][p];
      BOOST_TEST(row == 20);  // 20 images of each class
      total += row;
      diagonal += e.confusion[t][t];
    }
    BOOST_TEST(total == e.count);
    BOOST_TEST(double(diagonal) / double(e.count) == e.accuracy);
    BOOST_TEST(e.loss > 0);
    BOOST_TEST(std::isfinite(e.loss));
  }
  // Batch size changes nothing but rounding.
  const Evaluation a = narrow::evaluate(module, data.test, classes, 7);
  const Evaluation b = narrow::evaluate(module, data.test, classes, 256);
  BOOST_TEST(a.confusion == b.confusion);
  BOOST_TEST(a.loss == b.loss, boost::test_tools::tolerance(1e-5));

  // An empty set, and labels outside the classes.
  const Evaluation none = narrow::evaluate(module, narrow::ImageSet{}, classes);
  BOOST_TEST(none.count == 0);
  BOOST_TEST(none.accuracy == 0);
  narrow::ImageSet bad = data.test;
  bad.labels[5] = 3;
  BOOST_CHECK_THROW(narrow::evaluate(module, bad, classes), narrow::InputError);
}

BOOST_AUTO_TEST_CASE(empty_validation_is_skipped) {
  PreparedData data = make_data();
  data.validation = narrow::ImageSet{};
  const TrainResult r = train(data, small_config(), 2);
  BOOST_TEST(r.status == "ok");
  BOOST_TEST(r.validation.count == 0);
  BOOST_TEST(r.validation.accuracy == 0);
  for (const auto& e : r.history) BOOST_TEST(e.val_accuracy == 0);
  BOOST_TEST(r.test.accuracy > 0.9);
}

BOOST_AUTO_TEST_CASE(weights_round_trip) {
  const PreparedData data = make_data();
  const TrainResult r = train(data, small_config(), 6);
  GraphModule fresh = narrow::build_module(tiny_net());
  narrow::load_weights(fresh, r.weights);
  const Evaluation e = narrow::evaluate(fresh, data.test, classes);
  BOOST_TEST(e.loss == r.test.loss);
  BOOST_TEST(e.accuracy == r.test.accuracy);
  BOOST_TEST(e.confusion == r.test.confusion);
  BOOST_TEST(narrow::save_weights(fresh) == r.weights);

  // Wrong shapes, missing layers and garbage are errors of one line.
  const Architecture wider = Architecture::from_json_string(R"({"input": [1, 8, 8],
    "classes": 3, "layers": [
    {"id": "c1", "op": "conv2d", "inputs": ["input"], "out_channels": 4, "kernel": 3,
     "padding": 1},
    {"id": "bn1", "op": "batchnorm", "inputs": ["c1"]},
    {"id": "r1", "op": "relu", "inputs": ["bn1"]},
    {"id": "p1", "op": "maxpool", "inputs": ["r1"], "kernel": 2},
    {"id": "flat", "op": "flatten", "inputs": ["p1"]},
    {"id": "fc", "op": "linear", "inputs": ["flat"], "out_features": 3}],
    "output": "fc"})");
  GraphModule other = narrow::build_module(wider);
  try {
    narrow::load_weights(other, r.weights);
    BOOST_FAIL("loading weights of another shape must fail");
  } catch (const narrow::Error& err) {
    const std::string what = err.what();
    BOOST_TEST_MESSAGE(what);
    BOOST_TEST(what.find("c1.weight") != std::string::npos);
    BOOST_TEST(what.find('\n') == std::string::npos);
  }
  try {
    narrow::load_weights(fresh, "not a weights file");
    BOOST_FAIL("loading garbage must fail");
  } catch (const narrow::Error& err) {
    BOOST_TEST_MESSAGE(err.what());
    BOOST_TEST(std::string(err.what()).find('\n') == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(init_weights_depends_on_the_generator_alone) {
  const Architecture arch = tiny_net();
  GraphModule a = narrow::build_module(arch), b = narrow::build_module(arch);
  at::Generator ga = at::make_generator<at::CPUGeneratorImpl>(42);
  at::Generator gb = at::make_generator<at::CPUGeneratorImpl>(42);
  torch::rand({100});  // the global generator moves in between: no effect
  narrow::init_weights(a, ga);
  narrow::init_weights(b, gb);
  BOOST_TEST(parameters_of(a) == parameters_of(b));
  at::Generator gc = at::make_generator<at::CPUGeneratorImpl>(43);
  narrow::init_weights(b, gc);
  BOOST_TEST(parameters_of(a) != parameters_of(b));

  // LibTorch's default bounds: +-1/sqrt(fan_in); batch norm 1 and 0.
  auto* conv = a->named_children()["c1"]->as<torch::nn::Conv2dImpl>();
  BOOST_REQUIRE(conv);
  const double bound = 1.0 / std::sqrt(9.0);
  BOOST_TEST(conv->weight.abs().max().item<double>() <= bound);
  BOOST_TEST(conv->weight.abs().max().item<double>() > 0.8 * bound);
  BOOST_TEST(conv->bias.abs().max().item<double>() <= bound);
  auto* fc = a->named_children()["fc"]->as<torch::nn::LinearImpl>();
  BOOST_REQUIRE(fc);
  BOOST_TEST(fc->weight.abs().max().item<double>() <= 1.0 / std::sqrt(128.0));
  auto* bn = a->named_children()["bn1"]->as<torch::nn::BatchNorm2dImpl>();
  BOOST_REQUIRE(bn);
  BOOST_TEST(torch::equal(bn->weight, torch::ones({8})));
  BOOST_TEST(torch::equal(bn->bias, torch::zeros({8})));
  BOOST_TEST(torch::equal(bn->running_var, torch::ones({8})));
}

BOOST_AUTO_TEST_CASE(dropout_follows_the_module_generator) {
  GraphModule m = narrow::build_module(tiny_net(0.5));
  m->train();
  const torch::Tensor x = torch::randn({4, 1, 8, 8});
  m->set_generator(at::make_generator<at::CPUGeneratorImpl>(5));
  const torch::Tensor y1 = m->forward(x);
  m->set_generator(at::make_generator<at::CPUGeneratorImpl>(5));
  torch::rand({100});
  const torch::Tensor y2 = m->forward(x);
  BOOST_TEST(torch::equal(y1, y2));
  const torch::Tensor y3 = m->forward(x);  // the generator has moved on
  BOOST_TEST(!torch::equal(y1, y3));
  // Without a generator: LibTorch's dropout; in eval mode no dropout at all.
  m->set_generator(std::nullopt);
  BOOST_TEST(m->forward(x).sizes() == y1.sizes());
  m->eval();
  m->set_generator(at::make_generator<at::CPUGeneratorImpl>(5));
  const torch::Tensor e1 = m->forward(x);
  m->set_generator(std::nullopt);
  BOOST_TEST(torch::equal(e1, m->forward(x)));
}

BOOST_AUTO_TEST_CASE(the_callers_floating_point_mode_is_restored) {
#if defined(__SSE2__)
  // Training and evaluation flush denormals to zero in their thread, and only while they run.
  // The control bits of MXCSR (the low six are exception flags that any float op may raise).
  auto mode = [] { return _mm_getcsr() & ~0x3Fu; };
  const unsigned before = mode();
  GraphModule module(nullptr);
  const PreparedData data = make_data(10);
  narrow::train_model(tiny_net(), data, small_config(), 1, 1, false, {}, &module);
  BOOST_TEST(mode() == before);
  narrow::evaluate(module, data.test, classes);
  BOOST_TEST(mode() == before);
#endif
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_input_errors) {
  const PreparedData data = make_data(10);
  TrainingConfig config = small_config();
  config.batch_size = 0;
  BOOST_CHECK_THROW(train(data, config, 1), narrow::InputError);
  BOOST_CHECK_THROW(narrow::train_model(tiny_net(), data, small_config(), 1, 0, false, {}),
                    narrow::InputError);
  PreparedData wrong = data;
  wrong.train.labels[0] = 7;
  BOOST_CHECK_THROW(train(wrong, small_config(), 1), narrow::InputError);
  wrong = data;
  wrong.classes = 4;
  BOOST_CHECK_THROW(train(wrong, small_config(), 1), narrow::InputError);
  wrong = data;
  wrong.train.height = 9;
  BOOST_CHECK_THROW(train(wrong, small_config(), 1), narrow::InputError);
}
