#include "mlp_space.hpp"

#include <algorithm>
#include <array>

#include "narrow/errors.hpp"

namespace template_mlp {

namespace {

// A choice variable holds an index into its labels; the labels are what users write in
// sampling laws and what narrow prints. Keep each label list next to the values it stands for.
const std::vector<std::string> activation_labels{"relu", "relu6"};
constexpr std::array<narrow::Op, 2> activation_ops{narrow::Op::relu, narrow::Op::relu6};

const std::vector<std::string> dropout_labels{"none", "0.1", "0.25", "0.5"};
constexpr std::array<double, 4> dropout_probabilities{0.0, 0.1, 0.25, 0.5};

// The reference models, written the way their papers describe them: the widths of the hidden
// layers. Both use ReLU and no dropout.
struct ReferenceModel {
  const char* name;
  std::vector<std::int64_t> hidden_units;
};

const std::vector<ReferenceModel>& reference_models() {
  static const std::vector<ReferenceModel> models{
      // The smallest useful MLP: one hidden layer of 100 units.
      {"mlp_small", {100}},
      // LeNet-300-100 (LeCun et al. 1998, the fully-connected MNIST network): hidden layers
      // of 300 and 100 units. On a 28x28x1 input with 10 classes it has 266,610 parameters.
      {"mlp_lenet300", {300, 100}},
  };
  return models;
}

std::string reference_names() {
  std::string names;
  for (const auto& model : reference_models())
    names += (names.empty() ? "" : ", ") + std::string(model.name);
  return names;
}

// A layer that reads the output of layer `input` ("input" is the network's input).
narrow::Layer make_layer(std::string id, narrow::Op op, const std::string& input) {
  narrow::Layer layer;
  layer.id = std::move(id);
  layer.op = op;
  layer.inputs = {input};
  return layer;
}

}  // namespace

narrow::ParamSchema MlpSpace::schema() {
  // Each entry: name, default, inclusive range, one line of help. narrow checks the values
  // users give against it (and lists the valid names for a misspelt one) before the
  // constructor runs, so the constructor can trust them.
  return {
      narrow::ParamSpec::integers("input", {1, 28, 28}, 1, 4096,
                                  "input shape [C,H,W]; the network flattens it"),
      narrow::ParamSpec::integer("classes", 10, 1, 100000,
                                 "number of classes (outputs of the classifier)"),
      narrow::ParamSpec::integer("max_depth", 4, 1, 16, "largest number of hidden layers"),
      narrow::ParamSpec::integer("max_units", 1024, 1, 65536, "largest width of a hidden layer"),
  };
}

MlpSpace::MlpSpace(const narrow::Parameters& parameters)
    : classes_(parameters.integer("classes")), max_units_(parameters.integer("max_units")) {
  const auto& input = parameters.integers("input");  // three values: the schema says so
  input_ = narrow::Shape{input[0], input[1], input[2], false};
  const std::int64_t max_depth = parameters.integer("max_depth");

  using Kind = narrow::Variable::Kind;
  // Appends a variable and returns its position. `depends_on` is the position of the depth
  // variable that switches it on (-1: always on), `depends_min` the value it needs.
  auto add = [this](std::string name, Kind kind, std::int64_t min, std::int64_t max,
                    std::vector<std::string> choices, int depends_on, std::int64_t depends_min,
                    std::string help) {
    variables_.push_back(narrow::Variable{std::move(name), kind, min, max, std::move(choices),
                                          depends_on, depends_min, std::move(help)});
    return variables_.size() - 1;
  };

  // The depth variable comes first: narrow draws variables in order and decides whether
  // layerI.* is active from the value it has already drawn for `depth`.
  depth_ = add("depth", Kind::integer, 1, max_depth, {}, -1, 0, "number of hidden layers");
  // A choice variable's bounds are indices into its labels: 0..3 is none..0.5.
  dropout_ = add("dropout", Kind::choice, 0, std::int64_t(dropout_labels.size()) - 1,
                 dropout_labels, -1, 0, "dropout after every hidden activation (none: no layer)");
  // Then the per-layer variables: layerI.* exists only when depth >= I.
  for (std::int64_t i = 1; i <= max_depth; ++i) {
    const std::string prefix = "layer" + std::to_string(i) + ".";
    HiddenLayerVariables layer;
    layer.units = add(prefix + "units", Kind::integer, 1, max_units_, {}, int(depth_), i,
                      "width of the hidden linear layer");
    layer.activation =
        add(prefix + "activation", Kind::choice, 0, std::int64_t(activation_labels.size()) - 1,
            activation_labels, int(depth_), i, "activation after the hidden linear layer");
    hidden_.push_back(layer);
  }
}

narrow::Architecture MlpSpace::build(const narrow::Assignment& a) const {
  // build() is called from several threads at once on the same object: it reads members and
  // the assignment, and changes nothing else.
  narrow::Architecture arch(input_, classes_);
  const std::int64_t depth = a.at(depth_);
  const std::size_t dropout = std::size_t(a.at(dropout_));
  arch.reserve(std::size_t(3 * depth + 2));

  // Layers go in execution order; each names the layer it reads. `x` is the last one added.
  std::string x = "input";
  auto append = [&](narrow::Layer layer) {
    x = layer.id;
    arch.add(std::move(layer));
  };

  append(make_layer("flatten", narrow::Op::flatten, x));  // [C,H,W] -> [C*H*W]
  for (std::int64_t i = 0; i < depth; ++i) {
    const HiddenLayerVariables& vars = hidden_.at(std::size_t(i));
    const std::string n = std::to_string(i + 1);

    narrow::Layer linear = make_layer("fc" + n, narrow::Op::linear, x);
    linear.out_channels = a.at(vars.units);  // a linear layer keeps its width in out_channels
    append(std::move(linear));

    append(make_layer("act" + n, activation_ops.at(std::size_t(a.at(vars.activation))), x));

    if (dropout_probabilities.at(dropout) > 0) {
      narrow::Layer drop = make_layer("drop" + n, narrow::Op::dropout, x);
      drop.p = dropout_probabilities.at(dropout);
      append(std::move(drop));
    }
  }
  narrow::Layer classifier = make_layer("classifier", narrow::Op::linear, x);
  classifier.out_channels = classes_;
  append(std::move(classifier));
  arch.set_output("classifier");

  // No finalize() here: narrow runs shape inference itself, and would report a layer that does
  // not fit. An MLP always fits, so there is nothing to reject and no InvalidArchitecture to
  // throw; a space with invalid corners throws narrow::InvalidArchitecture with the reason.
  return arch;
}

std::vector<std::string> MlpSpace::references() const {
  std::vector<std::string> names;
  for (const auto& model : reference_models()) names.emplace_back(model.name);
  return names;  // the first one is what `narrow describe --reference` shows by default
}

narrow::Assignment MlpSpace::reference(const std::string& name) const {
  const auto& models = reference_models();
  const auto model = std::find_if(models.begin(), models.end(),
                                  [&](const ReferenceModel& m) { return m.name == name; });
  // Bad input from a user is a narrow::InputError: narrow prints it on one line, exit code 2.
  if (model == models.end())
    throw narrow::InputError("unknown reference '" + name +
                             "' of space 'mlp' (valid: " + reference_names() + ")");

  // The parameters may make the space too small for a reference: say which bound to raise.
  const auto layers = std::int64_t(model->hidden_units.size());
  const auto widest = *std::max_element(model->hidden_units.begin(), model->hidden_units.end());
  if (layers > std::int64_t(hidden_.size()))
    throw narrow::InputError("reference '" + name +
                             "' needs max_depth >= " + std::to_string(layers) +
                             " (this space has " + std::to_string(hidden_.size()) + ")");
  if (widest > max_units_)
    throw narrow::InputError("reference '" + name +
                             "' needs max_units >= " + std::to_string(widest) +
                             " (this space has " + std::to_string(max_units_) + ")");

  // Start from every variable's minimum (the convention for variables the reference leaves
  // inactive), then set the ones it uses.
  narrow::Assignment a(variables_.size());
  for (std::size_t i = 0; i < variables_.size(); ++i) a[i] = variables_[i].min;
  a[depth_] = layers;
  a[dropout_] = 0;  // "none"
  for (std::size_t i = 0; i < model->hidden_units.size(); ++i) {
    a[hidden_[i].units] = model->hidden_units[i];
    a[hidden_[i].activation] = 0;  // "relu"
  }
  check_assignment(a);  // from SearchSpace: throws if a value left its bounds
  return a;
}

}  // namespace template_mlp
