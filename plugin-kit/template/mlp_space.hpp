#pragma once
// The `mlp` search space: multilayer perceptrons.
//
// A search space does three things for narrow:
//   1. it declares its variables (name, integer or choice, absolute bounds, and which depth
//      variable switches each one on), depth variables first;
//   2. it turns an Assignment, one value per variable, into an Architecture;
//   3. it names the reference model(s) it was built around, as assignments of its own.
// narrow does the rest: sampling laws, drawing, shape inference, metrics, constraints, storage.
//
// Everything a plugin needs from narrow comes from the public headers under <narrow/...>.
#include <cstdint>
#include <string>
#include <vector>

#include "narrow/parameters.hpp"
#include "narrow/space.hpp"

// Your own namespace. The plugin's symbols are hidden (narrow_add_plugin() compiles with
// hidden visibility), so two plugins that both define a class `MlpSpace` do not clash.
namespace template_mlp {

/// Multilayer perceptrons: flatten the input, then `depth` hidden linear layers, each followed
/// by ReLU or ReLU6 and, when the `dropout` variable says so, by dropout; then a linear
/// classifier. Every assignment inside the bounds builds a valid network.
class MlpSpace final : public narrow::SearchSpace {
 public:
  /// Called by narrow's registry with the parameters resolved against schema(): every
  /// parameter has a value (the user's or the default) that is inside its range.
  explicit MlpSpace(const narrow::Parameters& parameters);

  /// The parameters users can set (in an experiment file, or with --param NAME=VALUE).
  static narrow::ParamSchema schema();

  // The SearchSpace interface (narrow/space.hpp).
  const std::vector<narrow::Variable>& variables() const override { return variables_; }
  narrow::Architecture build(const narrow::Assignment& assignment) const override;
  std::vector<std::string> references() const override;
  narrow::Assignment reference(const std::string& name) const override;
  // try_build() is not overridden: its default calls build(), which never fails here.

 private:
  // Positions of the variables in variables_, so that build() reads the assignment by index.
  struct HiddenLayerVariables {
    std::size_t units = 0;       // layerI.units
    std::size_t activation = 0;  // layerI.activation
  };

  narrow::Shape input_;
  std::int64_t classes_ = 0;
  std::int64_t max_units_ = 0;
  std::size_t depth_ = 0;                     // position of `depth`
  std::size_t dropout_ = 0;                   // position of `dropout`
  std::vector<HiddenLayerVariables> hidden_;  // one entry per possible hidden layer
  std::vector<narrow::Variable> variables_;
};

}  // namespace template_mlp
