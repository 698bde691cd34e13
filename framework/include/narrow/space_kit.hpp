#pragma once
// The space kit: what search spaces have in common, so that writing a space is declaring its
// variables and drawing its graph. It offers the `input` and `classes` parameters every space
// takes, the start of a reference assignment and the check that a reference fits the space,
// and GraphBuilder, which appends layers (convolutions with their batch norm and activation,
// pooling, merges, the classifier head) to an Architecture under the ids a space gives them.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "narrow/architecture.hpp"
#include "narrow/export.hpp"
#include "narrow/parameters.hpp"
#include "narrow/space.hpp"

namespace narrow {

// ----- The parameters every space takes ------------------------------------------------------

/// The `input` parameter: the shape [C,H,W] of the networks' input, 1..4096 each.
NARROW_API ParamSpec input_parameter(std::vector<std::int64_t> default_shape,
                                     std::string help = "input shape [C,H,W]");
/// The `classes` parameter: the number of classes, the outputs of the classifier, 1..100000.
NARROW_API ParamSpec classes_parameter(std::int64_t default_classes = 10,
                                       std::string help = "number of classes");
/// The value of the `input` parameter as a feature-map shape. Throws InputError
/// "space 'SPACE': input must be 3 integers [C,H,W], got N" for a list of another length
/// (parameters resolved against input_parameter() always have three).
NARROW_API Shape input_shape(const Parameters& parameters, std::string_view space);

// ----- Assignments and references ------------------------------------------------------------

/// Every variable at its absolute minimum: where a reference assignment starts, so that the
/// variables it leaves inactive hold their minimum.
NARROW_API Assignment minimum_assignment(const std::vector<Variable>& variables);

/// A bound a reference needs: the parameter that sets it, the value the reference needs and
/// the value this space has.
struct ReferenceBound {
  std::string_view parameter;
  std::int64_t needed = 0, available = 0;
};
/// Throws InputError when a bound is short: "reference 'NAME' needs P >= N (this space has A)",
/// with all the bounds given listed in order ("needs P >= N, Q >= M and R >= K (this space
/// has A, B and C)").
NARROW_API void check_reference_bounds(const std::string& reference,
                                       std::initializer_list<ReferenceBound> bounds);

/// SearchSpace::build() for a space that implements try_build(): the architecture, or
/// InvalidArchitecture with try_build()'s reason.
NARROW_API Architecture build_or_throw(const SearchSpace& space, const Assignment& a);

// ----- Layers ----------------------------------------------------------------------------------

/// The attributes of a conv2d layer (kernel, stride and padding are height x width). Without
/// bias by default: the spaces follow a convolution with batch norm, whose shift replaces it.
struct Conv {
  std::int64_t out_channels = 1;
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};
  std::int64_t groups = 1;
  bool bias = false;
  /// A k x k convolution padded by k / 2 on each side: at stride 1 the map keeps its size.
  static Conv same(std::int64_t out, std::int64_t k, std::int64_t s = 1) {
    return Conv{out, {k, k}, {s, s}, {k / 2, k / 2}};
  }
  /// A depthwise k x k convolution (one group per channel), padded like same().
  static Conv depthwise(std::int64_t channels, std::int64_t k, std::int64_t s = 1) {
    Conv c = same(channels, k, s);
    c.groups = channels;
    return c;
  }
};

/// The window of a pooling layer (height x width), without padding unless given.
struct Window {
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};
  /// A k x k window moving by `stride`, padded by `padding` on each side.
  static Window square(std::int64_t k, std::int64_t s, std::int64_t pad = 0) {
    return Window{{k, k}, {s, s}, {pad, pad}};
  }
};

/// The ids of a convolution unit's layers: the convolution, its batch norm and its activation.
/// An empty `norm` or `act` leaves that layer out.
struct ConvUnitIds {
  std::string conv, norm, act;
};

/// The ids of the classifier head after global pooling (GraphBuilder::pooled_head).
struct HeadIds {
  std::string pool = "pool", flatten = "flatten", dropout = "drop", classifier = "fc";
};

/// Appends layers to an Architecture in execution order. Every method adds the layers it
/// names, each reading the layer before it (the first reads `from`: a layer id, or "input"
/// for the network's input), and returns the id of the last layer it added. Layers get
/// Layer's defaults for every attribute the method does not set.
class NARROW_API GraphBuilder {
 public:
  explicit GraphBuilder(Architecture& arch) : arch_(arch) {}

  /// One layer without attributes: batchnorm, relu, relu6, global_avgpool or flatten.
  std::string unary(std::string id, Op op, const std::string& from);
  /// A conv2d layer.
  std::string conv(std::string id, const std::string& from, const Conv& conv);
  /// A maxpool or avgpool layer.
  std::string pool(std::string id, Op op, const std::string& from, const Window& window);
  /// An add layer of two tensors of one shape.
  std::string add(std::string id, const std::string& a, const std::string& b);
  /// A concat layer of feature maps along channels, in the order given.
  std::string concat(std::string id, std::vector<std::string> inputs);
  /// A linear layer with bias and `out` outputs.
  std::string linear(std::string id, const std::string& from, std::int64_t out);
  /// A dropout layer with probability p.
  std::string dropout(std::string id, const std::string& from, double p);

  /// ids.conv: the convolution; ids.norm: batch norm; ids.act: activation `act` (relu or
  /// relu6).
  std::string conv_unit(const ConvUnitIds& ids, const std::string& from, const Conv& conv,
                        Op act = Op::relu);
  /// The pre-activation order of DenseNet: ids.norm: batch norm; ids.act: activation `act`;
  /// ids.conv: the convolution.
  std::string norm_act_conv(const ConvUnitIds& ids, const std::string& from, const Conv& conv,
                            Op act = Op::relu);

  /// The classifier: a linear layer `id` with one output per class of the architecture, made
  /// the architecture's output.
  std::string classifier(std::string id, const std::string& from);
  /// The head of a convolutional network: ids.pool: global average pooling; ids.flatten:
  /// flatten; ids.dropout: dropout with probability `dropout_p`, only when it is above 0;
  /// ids.classifier: classifier().
  std::string pooled_head(const std::string& from, const HeadIds& ids = {}, double dropout_p = 0.0);

 private:
  std::string push(Layer layer);
  Architecture& arch_;
};

}  // namespace narrow
