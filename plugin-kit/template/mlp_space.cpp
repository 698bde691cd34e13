#include "mlp_space.hpp"

#include <algorithm>
#include <array>

#include "narrow/space_kit.hpp"

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

}  // namespace

narrow::ParamSchema MlpSpace::schema() {
  // Each entry: name, default, inclusive range, one line of help. narrow checks the values
  // users give against it (and lists the valid names for a misspelt one) before the
  // constructor runs, so the constructor can trust them. Every space takes `input` and
  // `classes`; the space kit (narrow/space_kit.hpp) declares them with their usual ranges.
  return {
      narrow::input_parameter({1, 28, 28}, "input shape [C,H,W]; the network flattens it"),
      narrow::classes_parameter(10, "number of classes (outputs of the classifier)"),
      narrow::ParamSpec::integer("max_depth", 4, 1, 16, "largest number of hidden layers"),
      narrow::ParamSpec::integer("max_units", 1024, 1, 65536, "largest width of a hidden layer"),
  };
}

MlpSpace::MlpSpace(const narrow::Parameters& parameters)
    : input_(narrow::input_shape(parameters, "mlp")),
      classes_(parameters.integer("classes")),
      max_units_(parameters.integer("max_units")) {
  const std::int64_t max_depth = parameters.integer("max_depth");

  using Kind = narrow::Variable::Kind;
  // narrow::add_variable appends a variable to variables_ and returns its position:
  // name, kind, absolute bounds, the labels of a choice, the position of the depth variable
  // that switches it on (-1: always on) and the value it needs, one line of help.
  // The depth variable comes first: narrow draws variables in order and decides whether
  // layerI.* is active from the value it has already drawn for `depth`.
  depth_ = narrow::add_variable(variables_, "depth", Kind::integer, 1, max_depth, {}, -1, 0,
                                "number of hidden layers");
  // A choice variable's bounds are indices into its labels: 0..3 is none..0.5.
  dropout_ = narrow::add_variable(variables_, "dropout", Kind::choice, 0,
                                  std::int64_t(dropout_labels.size()) - 1, dropout_labels, -1, 0,
                                  "dropout after every hidden activation (none: no layer)");
  // Then the per-layer variables: layerI.* exists only when depth >= I.
  for (std::int64_t i = 1; i <= max_depth; ++i) {
    const std::string prefix = "layer" + std::to_string(i) + ".";
    HiddenLayerVariables layer;
    layer.units = narrow::add_variable(variables_, prefix + "units", Kind::integer, 1, max_units_,
                                       {}, int(depth_), i, "width of the hidden linear layer");
    layer.activation =
        narrow::add_variable(variables_, prefix + "activation", Kind::choice, 0,
                             std::int64_t(activation_labels.size()) - 1, activation_labels,
                             int(depth_), i, "activation after the hidden linear layer");
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

  // GraphBuilder (narrow/space_kit.hpp) appends layers in execution order. Each call names the
  // new layer and the layer it reads ("input" is the network's input) and returns the new id.
  narrow::GraphBuilder graph(arch);
  std::string x = graph.unary("flatten", narrow::Op::flatten, "input");  // [C,H,W] -> [C*H*W]
  for (std::int64_t i = 0; i < depth; ++i) {
    const HiddenLayerVariables& vars = hidden_.at(std::size_t(i));
    const std::string n = std::to_string(i + 1);
    x = graph.linear("fc" + n, x, a.at(vars.units));
    x = graph.unary("act" + n, activation_ops.at(std::size_t(a.at(vars.activation))), x);
    if (dropout_probabilities.at(dropout) > 0)
      x = graph.dropout("drop" + n, x, dropout_probabilities.at(dropout));
  }
  // A linear layer with one output per class, made the network's output.
  graph.classifier("classifier", x);

  // No finalize() here: narrow runs shape inference itself, and would report a layer that does
  // not fit. An MLP always fits, so there is nothing to reject and no InvalidArchitecture to
  // throw; a space with invalid corners throws narrow::InvalidArchitecture with the reason.
  return arch;
}

std::vector<std::string> MlpSpace::references() const {
  // The first one is what `narrow describe --reference` shows by default.
  return narrow::reference_names(reference_models());
}

narrow::Assignment MlpSpace::reference(const std::string& name) const {
  // Bad input from a user is a narrow::InputError: narrow prints it on one line, exit code 2.
  // find_reference throws one that lists the valid names.
  const ReferenceModel& model = narrow::find_reference(reference_models(), name, "mlp");

  // The parameters may make the space too small for a reference: say which bound to raise.
  const auto layers = std::int64_t(model.hidden_units.size());
  const auto widest = *std::max_element(model.hidden_units.begin(), model.hidden_units.end());
  narrow::check_reference_bounds(name, {{"max_depth", layers, std::int64_t(hidden_.size())}});
  narrow::check_reference_bounds(name, {{"max_units", widest, max_units_}});

  // Start from every variable's minimum (the convention for variables the reference leaves
  // inactive), then set the ones it uses.
  narrow::Assignment a = narrow::minimum_assignment(variables_);
  a[depth_] = layers;
  a[dropout_] = 0;  // "none"
  for (std::size_t i = 0; i < model.hidden_units.size(); ++i) {
    a[hidden_[i].units] = model.hidden_units[i];
    a[hidden_[i].activation] = 0;  // "relu"
  }
  check_assignment(a);  // from SearchSpace: throws if a value left its bounds
  return a;
}

}  // namespace template_mlp
