#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "narrow/export.hpp"

namespace narrow {

/// The kinds of layer an Architecture is made of.
enum class Op : std::uint8_t {
  conv2d,
  batchnorm,
  relu,
  relu6,
  maxpool,
  avgpool,
  global_avgpool,
  add,
  concat,
  flatten,
  linear,
  dropout,
};
inline constexpr int op_count = 12;

NARROW_API std::string_view op_name(Op op);
/// Parses an op name; returns false when the name is not one of op_name()'s.
NARROW_API bool parse_op(std::string_view name, Op& out);

/// The shape of one tensor for batch size 1: a feature map (C, H, W) or a flat vector (C).
struct NARROW_API Shape {
  std::int64_t c = 0, h = 1, w = 1;
  bool flat = false;
  std::int64_t volume() const { return c * h * w; }
  std::string to_string() const;  // "[C,H,W]" or "[C]"
  friend bool operator==(const Shape&, const Shape&) = default;
};

/// One layer. Which attributes matter depends on `op`:
/// conv2d: out_channels, kernel, stride, padding, groups, bias; maxpool/avgpool: kernel,
/// stride, padding; linear: out_features (kept in out_channels), bias; dropout: p.
struct NARROW_API Layer {
  std::string id;
  Op op = Op::relu;
  std::vector<std::string> inputs;  // layer ids, or "input" for the network input
  std::int64_t out_channels = 0;    // conv2d filters; linear out_features
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};
  std::int64_t groups = 1;
  bool bias = true;
  double p = 0.5;  // dropout probability
  friend bool operator==(const Layer&, const Layer&) = default;
};

/// A neural network as a directed acyclic graph of layers (kept on Boost.Graph), with the
/// input shape, the class count and the id of the output layer.
///
/// Layers are kept in an execution (topological) order: a layer's inputs come before it.
/// `finalize()` runs shape inference and computes every layer's output shape; it throws
/// InvalidArchitecture with the layer and the shapes when the graph is not a valid network.
class NARROW_API Architecture {
 public:
  Architecture() = default;
  Architecture(Shape input, std::int64_t classes);

  const Shape& input() const { return input_; }
  std::int64_t classes() const { return classes_; }
  const std::vector<Layer>& layers() const { return layers_; }
  const std::string& output() const { return output_; }

  void reserve(std::size_t layers) { layers_.reserve(layers); }
  /// Appends a layer; its inputs must be earlier layers or "input". Returns its index.
  std::size_t add(Layer layer);
  void set_output(std::string id) { output_ = std::move(id); }

  /// Shape inference and graph checks (ids unique and well-formed, inputs known, acyclic,
  /// every layer used, the output is a flat vector of `classes`). Throws InvalidArchitecture.
  void finalize();
  bool finalized() const { return finalized_; }

  /// After finalize(): the output shape of layer i, the inputs of layer i as layer indices
  /// (-1 is the network input), and the index of the last layer that reads layer i's output
  /// (-1 when only the network output keeps it).
  const Shape& shape(std::size_t i) const { return shapes_.at(i); }
  const std::vector<int>& input_indices(std::size_t i) const { return input_index_.at(i); }
  int last_consumer(std::size_t i) const { return last_consumer_.at(i); }
  int last_consumer_of_input() const { return input_last_consumer_; }
  std::size_t output_index() const { return output_index_; }
  std::size_t index_of(std::string_view id) const;  // throws InvalidArchitecture

  /// Canonical JSON (see docs/architecture-json.md) and back. from_json validates the form
  /// and runs finalize(); errors are InvalidArchitecture with the JSON path of the problem.
  nlohmann::json to_json() const;
  std::string to_json_string() const;  // compact, one line
  static Architecture from_json(const nlohmann::json& j);
  static Architecture from_json_string(std::string_view text);

  /// Stable content hash: 32 hex digits of XXH3-128. Each layer gets a Merkle hash (op,
  /// attributes, hashes of its inputs in order); the layers are then put in a canonical
  /// topological order (ready layers by smallest hash) and that sequence, with inputs by
  /// position, the input shape, the class count and the output, is hashed. Layer ids and the
  /// order in which independent layers are listed do not enter it. Finalizes a copy when the
  /// architecture is not finalized (and so throws InvalidArchitecture for invalid graphs).
  std::string hash() const;

 private:
  Shape input_{};
  std::int64_t classes_ = 0;
  std::vector<Layer> layers_;
  std::string output_;
  bool finalized_ = false;
  std::vector<Shape> shapes_;
  std::vector<std::vector<int>> input_index_;
  std::vector<int> last_consumer_;
  int input_last_consumer_ = -1;
  std::size_t output_index_ = 0;
};

/// The architecture as a table for people: the input and class count, then one line per layer
/// with its op, its attributes and its output shape. Ends with a newline.
NARROW_API std::string architecture_table(const Architecture& a);

/// Which batch norms inference folds: for every layer of `arch` (finalized), the index of
/// the convolution a batch norm folds into, or -1. A batch norm folds when its only input is
/// a conv2d that nothing else reads and that is not the output.
NARROW_API std::vector<int> batchnorm_folds(const Architecture& arch);

/// The network as inference runs it: every batch norm whose only input is a conv2d read by
/// nothing else is folded into that convolution (the convolution gains a bias, the batch norm
/// disappears and its readers read the convolution). Returns a finalized architecture.
NARROW_API Architecture fold_batchnorm(const Architecture& arch);

}  // namespace narrow
