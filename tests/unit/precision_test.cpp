#define BOOST_TEST_MODULE precision
// The precision analysis evaluator: batch norm folded as deployment does it, parameters, the
// input and activation maps rounded to a format, work independent of the format done once.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "narrow/dataset.hpp"
#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "engine/quantized_model.hpp"
#include "narrow/registry.hpp"
#include "engine/trainer.hpp"
#include "support/plugins.hpp"

using namespace narrow;

namespace {

const char* bn_arch = R"({"input": [1, 8, 8], "classes": 4, "output": "fc", "layers": [
  {"id": "conv", "op": "conv2d", "inputs": ["input"], "out_channels": 6, "kernel": 3, "padding": 1, "bias": false},
  {"id": "bn", "op": "batchnorm", "inputs": ["conv"]},
  {"id": "relu", "op": "relu", "inputs": ["bn"]},
  {"id": "pool", "op": "avgpool", "inputs": ["relu"], "kernel": 2},
  {"id": "conv2", "op": "conv2d", "inputs": ["pool"], "out_channels": 4, "kernel": 3, "padding": 1},
  {"id": "bn2", "op": "batchnorm", "inputs": ["conv2"]},
  {"id": "add", "op": "add", "inputs": ["bn2", "conv2"]},
  {"id": "flat", "op": "flatten", "inputs": ["add"]},
  {"id": "fc", "op": "linear", "inputs": ["flat"], "out_features": 4}]})";

/// Rounds to multiples of 2^-k: a crude format of the test's own.
class Grid final : public NumberFormat {
 public:
  explicit Grid(int k) : scale_(std::ldexp(1.0f, k)) {}
  std::string name() const override { return "grid"; }
  int bits() const override { return 8; }
  void round(std::span<float> v, const RoundingOptions&) const override {
    for (float& x : v) x = std::nearbyint(x * scale_) / scale_;
  }

 private:
  float scale_;
};
/// Every value becomes 0.
class Zero final : public NumberFormat {
 public:
  std::string name() const override { return "zero"; }
  int bits() const override { return 1; }
  void round(std::span<float> v, const RoundingOptions&) const override {
    for (float& x : v) x = 0;
  }
};
/// Changes nothing, and counts the values it sees by tensor role.
class Count final : public NumberFormat {
 public:
  std::string name() const override { return "count"; }
  int bits() const override { return 32; }
  void round(std::span<float> v, const RoundingOptions&) const override { seen += v.size(); }
  void quantize(std::span<float> v, const TensorInfo& t, const RoundingOptions&) const override {
    (t.role == TensorInfo::Role::activation ? seen : params) += v.size();
  }
  mutable std::size_t seen = 0, params = 0;
};

struct Trained {
  Architecture arch;
  std::shared_ptr<const PreparedData> data;
  GraphModule module{nullptr};
};

Trained& trained() {
  static Trained t = [] {
    Trained x;
    const Registry& reg = test::built_plugins();
    DatasetSpec spec;
    spec.name = "synthetic";
    spec.parameters = {{"train", "400"}, {"test", "200"}, {"noise", "0.8"}};
    spec.seed = 5;
    x.data = load_dataset(reg, spec);
    x.arch = Architecture::from_json_string(bn_arch);
    TrainingConfig c;
    c.epochs = 3;
    c.batch_size = 32;
    GraphModule m(nullptr);
    const TrainResult r = train_model(x.arch, *x.data, c, 9, 1, false, {}, &m);
    BOOST_REQUIRE(r.status == "ok");
    x.module = m;
    return x;
  }();
  return t;
}

}  // namespace

BOOST_AUTO_TEST_CASE(folding_keeps_the_float32_model) {
  auto& t = trained();
  QuantizedModel q(t.arch, t.module);
  BOOST_TEST(q.folded() == 1);  // conv -> bn; conv2 feeds bn2 and add, so bn2 stays
  const Evaluation reference = evaluate(t.module, t.data->test, t.data->classes);
  const Evaluation folded = q.evaluate(t.data->test, t.data->classes, nullptr);
  BOOST_TEST(folded.count == reference.count);
  BOOST_TEST(std::abs(folded.loss - reference.loss) < 1e-4);
  BOOST_TEST(std::abs(folded.accuracy - reference.accuracy) <= 1.0 / double(reference.count));
  // Folding removed the batch norm's parameters: conv 6*9 + bias 6, bn2 scale/shift 4 + 4,
  // conv2 4*6*9 + 4, fc 4*4*4*4... counted from the tensors.
  BOOST_TEST(q.parameters() == 6 * 9 + 6 + 4 * 6 * 9 + 4 + 4 + 4 + 4 * 64 + 4);
}

BOOST_AUTO_TEST_CASE(a_format_rounds_parameters_input_and_new_activations) {
  auto& t = trained();
  QuantizedModel q(t.arch, t.module);
  Count count;
  const Evaluation same = q.evaluate(t.data->test, t.data->classes, &count);
  const Evaluation folded = q.evaluate(t.data->test, t.data->classes, nullptr);
  BOOST_TEST(same.accuracy == folded.accuracy);
  BOOST_TEST(same.loss == folded.loss);
  // Parameters once per evaluation; per image: input 64, conv 6*64, avgpool 6*16, conv2 4*16,
  // bn2 4*16, add 4*16, fc 4 (relu, flatten and the folded bn pass values through).
  BOOST_TEST(count.params == std::size_t(q.parameters()));
  BOOST_TEST(count.seen == std::size_t(200 * (64 + 6 * 64 + 6 * 16 + 4 * 16 * 3 + 4)));

  // Every value zero: the logits are 0 and argmax picks class 0 for every image.
  Zero zero;
  const Evaluation z = q.evaluate(t.data->test, t.data->classes, &zero);
  std::int64_t class0 = 0;
  for (auto l : t.data->test.labels) class0 += l == 0;
  BOOST_TEST(z.accuracy == double(class0) / double(t.data->test.size()));

  // A coarse grid changes results; a fine one hardly does; both are deterministic.
  Grid coarse(0), fine(12);
  const Evaluation c1 = q.evaluate(t.data->test, t.data->classes, &coarse);
  const Evaluation c2 = q.evaluate(t.data->test, t.data->classes, &coarse);
  BOOST_TEST(c1.loss == c2.loss);
  BOOST_TEST(c1.loss != folded.loss);
  const Evaluation f = q.evaluate(t.data->test, t.data->classes, &fine);
  BOOST_TEST(std::abs(f.accuracy - folded.accuracy) <= 2.0 / 200);
  // The batch size does not change anything.
  const Evaluation c3 = q.evaluate(t.data->test, t.data->classes, &coarse, {}, 7);
  BOOST_TEST(c3.confusion == c1.confusion);
  BOOST_TEST(std::abs(c3.loss - c1.loss) < 1e-5);  // float32 sums in other batches
}

BOOST_AUTO_TEST_CASE(stored_bytes_are_what_a_device_stores) {
  auto& t = trained();
  QuantizedModel q(t.arch, t.module);
  // After folding: conv 6x1x3x3 weights with 6 biases (made by the fold), conv2 4x6x3x3 with
  // 4 biases, bn2 (not folded) 4 scales as weights and 4 shifts as biases, fc 4x64 with 4.
  const std::int64_t weights = 6 * 9 + 4 * 6 * 9 + 4 + 4 * 64, biases = 6 + 4 + 4 + 4;
  const std::int64_t channels = 6 + 4 + 4 + 4;  // output channels of the weight tensors
  // Rounded activation tensors: input, conv, avgpool, conv2, bn2, add, fc.
  const std::int64_t activations = 7;
  BOOST_TEST(q.rounded_tensors() == activations);
  BOOST_TEST(q.stored_bytes(nullptr) == 4 * (weights + biases));
  // A format that keeps nothing beside its values: weights and biases bit-packed.
  Grid grid(4);  // 8 bits
  BOOST_TEST(q.stored_bytes(&grid) == weights + biases);
  Zero one_bit;  // 1 bit: 548 bits round up to 69 bytes
  BOOST_TEST(q.stored_bytes(&one_bit) == (weights + biases + 7) / 8);
  // int8: int8 weights, a float32 scale and a 32-bit zero point per output channel, int32
  // biases, and a scale and zero point per activation tensor (static) or none (dynamic).
  const Registry& reg = test::built_plugins();
  const auto int8 = create_format(reg, "int8");
  BOOST_TEST(q.stored_bytes(int8.get()) ==
             weights + 8 * channels + 4 * biases + 8 * activations);
  BOOST_TEST(q.stored_bytes(int8.get()) == 530 + 144 + 72 + 56);
  const auto dynamic = create_format(reg, "int8(dynamic)");
  BOOST_TEST(q.stored_bytes(dynamic.get()) == 530 + 144 + 72);
}

/// Changes nothing; records the activation ranges it is given.
class Spy final : public NumberFormat {
 public:
  std::string name() const override { return "spy"; }
  int bits() const override { return 32; }
  void round(std::span<float>, const RoundingOptions&) const override {}
  void quantize(std::span<float>, const TensorInfo& t, const RoundingOptions&) const override {
    if (t.role != TensorInfo::Role::activation) return;
    ++calls;
    calibrated += t.calibrated;
    lows.push_back(t.low);
    highs.push_back(t.high);
  }
  mutable std::size_t calls = 0, calibrated = 0;
  mutable std::vector<float> lows, highs;
};

BOOST_AUTO_TEST_CASE(static_ranges_are_calibrated_on_training_images) {
  auto& t = trained();
  QuantizedModel q(t.arch, t.module);
  const ImageSet& train = t.data->train;
  // 10 images spread over the training split: images 0, n/10, 2n/10, ...
  const QuantizedModel::Ranges r = q.calibrate(train, 10, 3);
  BOOST_TEST_REQUIRE(r.size() == t.arch.layers().size() + 1);
  float lo = INFINITY, hi = -INFINITY;
  for (std::int64_t k = 0; k < 10; ++k) {
    const std::int64_t image = k * train.size() / 10;
    for (std::int64_t v = 0; v < train.image_size(); ++v) {
      lo = std::min(lo, train.pixels[std::size_t(image * train.image_size() + v)]);
      hi = std::max(hi, train.pixels[std::size_t(image * train.image_size() + v)]);
    }
  }
  BOOST_TEST(r[0].low == lo);
  BOOST_TEST(r[0].high == hi);
  // Slots of tensors that are not rounded (relu, the folded bn, flatten) record nothing;
  // the others a real range.
  const auto& layers = t.arch.layers();
  std::size_t rounded = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const bool passes = layers[i].id == "relu" || layers[i].id == "bn" || layers[i].id == "flat";
    BOOST_TEST((passes ? std::isinf(r[i + 1].low) : r[i + 1].low <= r[i + 1].high),
               "layer " << layers[i].id);
    rounded += !passes;
  }
  BOOST_TEST(rounded + 1 == std::size_t(q.rounded_tensors()));
  // More calibration images can only widen a range; the batch size changes only float32
  // rounding (convolutions sum in another order).
  const QuantizedModel::Ranges all = q.calibrate(train, train.size() * 2);
  const QuantizedModel::Ranges again = q.calibrate(train, 10, 500);
  for (std::size_t k = 0; k < r.size(); ++k) {
    if (std::isinf(r[k].low)) {
      BOOST_TEST((std::isinf(again[k].low) && std::isinf(all[k].low)));
      continue;
    }
    BOOST_TEST(std::abs(again[k].low - r[k].low) <= 1e-5f * (1 + std::abs(r[k].low)));
    BOOST_TEST(std::abs(again[k].high - r[k].high) <= 1e-5f * (1 + std::abs(r[k].high)));
    BOOST_TEST(all[k].low <= r[k].low);
    BOOST_TEST(all[k].high >= r[k].high);
  }
  // Evaluation hands every activation its slot's range.
  Spy spy;
  q.evaluate(t.data->test, t.data->classes, &spy, {}, 500, &r);
  BOOST_TEST(spy.calls == std::size_t(200 * q.rounded_tensors()));
  BOOST_TEST(spy.calibrated == spy.calls);
  BOOST_TEST(spy.lows.front() == r[0].low);
  BOOST_TEST(spy.highs.back() == r.back().high);  // fc, the last layer
  // Static int8 stays close to float32 on this easy task and does not depend on the batch.
  const auto int8 = create_format(test::built_plugins(), "int8");
  const Evaluation a = q.evaluate(t.data->test, t.data->classes, int8.get(), {}, 500, &all);
  const Evaluation b = q.evaluate(t.data->test, t.data->classes, int8.get(), {}, 7, &all);
  const Evaluation f = q.evaluate(t.data->test, t.data->classes, nullptr);
  BOOST_TEST(a.confusion == b.confusion);
  BOOST_TEST(std::abs(a.accuracy - f.accuracy) <= 0.05);
  BOOST_CHECK_THROW(q.calibrate(ImageSet{}, 10), InputError);
}
