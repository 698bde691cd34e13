#define BOOST_TEST_MODULE precision
// The precision analysis evaluator: batch norm folded as deployment does it, parameters, the
// input and activation maps rounded to a format, work independent of the format done once.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "narrow/dataset.hpp"
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
