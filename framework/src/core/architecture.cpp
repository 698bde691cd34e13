#include "narrow/architecture.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <xxhash.h>
#include <boost/endian/conversion.hpp>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/compressed_sparse_row_graph.hpp>
#include <boost/graph/topological_sort.hpp>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"

namespace narrow {

namespace {
constexpr std::array<std::string_view, op_count> op_names{
    "conv2d",         "batchnorm", "relu",   "relu6",   "maxpool", "avgpool",
    "global_avgpool", "add",       "concat", "flatten", "linear",  "dropout"};

// Graphs of layers on Boost.Graph. A finalized architecture keeps a compressed sparse row graph
// (vertex 0 the network input, vertex i+1 layer i); reading JSON in any order uses an
// adjacency list and a topological sort.
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;
using CsrGraph = boost::compressed_sparse_row_graph<boost::directedS>;

bool valid_id(const std::string& id) {
  if (id.empty() || id == "input" || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}
}  // namespace

std::string_view op_name(Op op) {
  return op_names[static_cast<std::size_t>(op)];
}

bool parse_op(std::string_view name, Op& out) {
  for (std::size_t i = 0; i < op_names.size(); ++i) {
    if (op_names[i] == name) {
      out = static_cast<Op>(i);
      return true;
    }
  }
  return false;
}

std::string Shape::to_string() const {
  if (flat) return fmt::format("[{}]", c);
  return fmt::format("[{},{},{}]", c, h, w);
}

Architecture::Architecture(Shape input, std::int64_t classes) : input_(input), classes_(classes) {}

std::size_t Architecture::add(Layer layer) {
  finalized_ = false;
  layers_.push_back(std::move(layer));
  return layers_.size() - 1;
}

std::size_t Architecture::index_of(std::string_view id) const {
  for (std::size_t i = 0; i < layers_.size(); ++i)
    if (layers_[i].id == id) return i;
  throw InvalidArchitecture(fmt::format("no layer '{}'", id));
}

void Architecture::finalize() {
  const std::size_t n = layers_.size();
  auto fail = [](const std::string& msg) { throw InvalidArchitecture(msg); };
  if (input_.c < 1 || input_.h < 1 || input_.w < 1)
    fail(fmt::format("input shape {} must have positive C, H and W", input_.to_string()));
  if (classes_ < 1) fail(fmt::format("class count {} must be at least 1", classes_));
  if (n == 0) fail("the architecture has no layers");

  input_index_.resize(n);
  shapes_.assign(n, Shape{});
  // Edges (producer -> consumer); vertex 0 is the network input, vertex i+1 is layer i.
  // Ids resolve by a backward scan on small graphs (inputs are usually the previous layer)
  // and through a hash map on large ones.
  std::vector<std::pair<std::size_t, std::size_t>> edges;
  edges.reserve(n + n / 2);
  const bool large = n > 48;
  std::unordered_map<std::string_view, int> ids;
  if (large) ids.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    const Layer& l = layers_[i];
    if (!valid_id(l.id))
      fail(fmt::format("layer {}: id '{}' is not valid (letters, digits and _, not 'input')", i,
                       l.id));
    if (large) {
      if (!ids.emplace(l.id, int(i)).second) fail(fmt::format("layer id '{}' is used twice", l.id));
    } else {
      for (std::size_t j = 0; j < i; ++j)
        if (layers_[j].id == l.id) fail(fmt::format("layer id '{}' is used twice", l.id));
    }
    if (l.inputs.empty()) fail(fmt::format("layer '{}' ({}) has no inputs", l.id, op_name(l.op)));
    auto& ins = input_index_[i];
    ins.clear();
    for (const auto& in : l.inputs) {
      int k = -1;
      if (in != "input") {
        if (large) {
          auto it = ids.find(in);
          if (it != ids.end() && it->second < int(i)) k = it->second;
        } else {
          for (std::size_t j = i; j-- > 0;)
            if (layers_[j].id == in) {
              k = int(j);
              break;
            }
        }
        if (k < 0) {
          bool later = false;
          for (std::size_t j = i + 1; j < n; ++j) later = later || layers_[j].id == in;
          fail(later ? fmt::format("layer '{}' reads '{}', which comes after it (layers must be "
                                   "in execution order)",
                                   l.id, in)
                     : fmt::format("layer '{}' reads unknown layer '{}'", l.id, in));
        }
      }
      ins.push_back(k);
      edges.emplace_back(std::size_t(k + 1), i + 1);
    }
  }
  const CsrGraph g(boost::edges_are_unsorted_multi_pass, edges.begin(), edges.end(), n + 1);

  // Shape inference, in execution order.
  for (std::size_t i = 0; i < n; ++i) {
    const Layer& l = layers_[i];
    const auto& ins = input_index_[i];
    auto in_shape = [&](std::size_t k) -> const Shape& {
      return ins[k] < 0 ? input_ : shapes_[std::size_t(ins[k])];
    };
    auto what = [&]() { return fmt::format("layer '{}' ({})", l.id, op_name(l.op)); };
    auto unary = [&]() -> const Shape& {
      if (ins.size() != 1) fail(fmt::format("{} takes 1 input, got {}", what(), ins.size()));
      return in_shape(0);
    };
    auto map_input = [&]() -> const Shape& {
      const Shape& s = unary();
      if (s.flat)
        fail(fmt::format("{} needs a feature map [C,H,W], got the flat vector {}", what(),
                         s.to_string()));
      return s;
    };
    auto window = [&](const Shape& s, bool conv) {
      for (int d = 0; d < 2; ++d) {
        if (l.kernel[d] < 1 || l.stride[d] < 1 || l.padding[d] < 0)
          fail(fmt::format(
              "{}: kernel [{},{}] and stride [{},{}] must be >= 1, padding [{},{}] >= 0", what(),
              l.kernel[0], l.kernel[1], l.stride[0], l.stride[1], l.padding[0], l.padding[1]));
        if (!conv && 2 * l.padding[d] > l.kernel[d])
          fail(fmt::format("{}: padding [{},{}] is more than half the kernel [{},{}]", what(),
                           l.padding[0], l.padding[1], l.kernel[0], l.kernel[1]));
      }
      std::int64_t h = s.h + 2 * l.padding[0], w = s.w + 2 * l.padding[1];
      if (h < l.kernel[0] || w < l.kernel[1])
        fail(fmt::format("{}: kernel [{},{}] is larger than the padded input {} (padding [{},{}])",
                         what(), l.kernel[0], l.kernel[1], s.to_string(), l.padding[0],
                         l.padding[1]));
      return std::pair{(h - l.kernel[0]) / l.stride[0] + 1, (w - l.kernel[1]) / l.stride[1] + 1};
    };
    Shape out;
    switch (l.op) {
      case Op::conv2d: {
        const Shape& s = map_input();
        if (l.out_channels < 1) fail(fmt::format("{}: out_channels must be >= 1", what()));
        if (l.groups < 1 || s.c % l.groups != 0 || l.out_channels % l.groups != 0)
          fail(fmt::format("{}: groups {} must divide the input channels {} and out_channels {}",
                           what(), l.groups, s.c, l.out_channels));
        auto [h, w] = window(s, true);
        out = Shape{l.out_channels, h, w, false};
        break;
      }
      case Op::maxpool:
      case Op::avgpool: {
        const Shape& s = map_input();
        auto [h, w] = window(s, false);
        out = Shape{s.c, h, w, false};
        break;
      }
      case Op::global_avgpool: {
        const Shape& s = map_input();
        out = Shape{s.c, 1, 1, false};
        break;
      }
      case Op::batchnorm:
      case Op::relu:
      case Op::relu6:
        out = unary();
        break;
      case Op::dropout:
        if (!(l.p >= 0.0 && l.p < 1.0))
          fail(fmt::format("{}: p = {} must be in [0, 1)", what(), l.p));
        out = unary();
        break;
      case Op::flatten: {
        const Shape& s = unary();
        out = Shape{s.volume(), 1, 1, true};
        break;
      }
      case Op::linear: {
        const Shape& s = unary();
        if (!s.flat)
          fail(
              fmt::format("{} needs a flat vector, got the feature map {} (add a flatten or "
                          "global_avgpool + flatten before it)",
                          what(), s.to_string()));
        if (l.out_channels < 1) fail(fmt::format("{}: out_features must be >= 1", what()));
        out = Shape{l.out_channels, 1, 1, true};
        break;
      }
      case Op::add: {
        if (ins.size() < 2)
          fail(fmt::format("{} needs at least 2 inputs, got {}", what(), ins.size()));
        out = in_shape(0);
        for (std::size_t k = 1; k < ins.size(); ++k)
          if (!(in_shape(k) == out))
            fail(fmt::format("{}: input shapes differ: '{}' is {}, '{}' is {}", what(), l.inputs[0],
                             out.to_string(), l.inputs[k], in_shape(k).to_string()));
        break;
      }
      case Op::concat: {
        if (ins.size() < 2)
          fail(fmt::format("{} needs at least 2 inputs, got {}", what(), ins.size()));
        out = in_shape(0);
        for (std::size_t k = 1; k < ins.size(); ++k) {
          const Shape& s = in_shape(k);
          if (s.flat != out.flat || s.h != out.h || s.w != out.w)
            fail(fmt::format("{}: inputs must agree in all but channels: '{}' is {}, '{}' is {}",
                             what(), l.inputs[0], in_shape(0).to_string(), l.inputs[k],
                             s.to_string()));
          out.c += s.c;
        }
        break;
      }
    }
    shapes_[i] = out;
  }

  // Consumers, from the graph: the last layer that reads each tensor.
  last_consumer_.assign(n, -1);
  for (std::size_t v = 0; v <= n; ++v) {
    int last = -1;
    for (auto [e, end] = boost::out_edges(v, g); e != end; ++e)
      last = std::max(last, int(boost::target(*e, g)) - 1);
    if (v == 0) {
      input_last_consumer_ = last;
    } else {
      last_consumer_[v - 1] = last;
    }
  }
  if (input_last_consumer_ < 0) fail("no layer reads the network input");

  std::string out_id = output_.empty() ? layers_.back().id : output_;
  std::size_t out_index = n;
  if (large) {
    if (auto it = ids.find(out_id); it != ids.end()) out_index = std::size_t(it->second);
  } else {
    for (std::size_t j = n; j-- > 0;)
      if (layers_[j].id == out_id) {
        out_index = j;
        break;
      }
  }
  if (out_index == n) fail(fmt::format("the output '{}' is not a layer", out_id));
  output_index_ = out_index;
  output_ = out_id;
  for (std::size_t i = 0; i < n; ++i)
    if (last_consumer_[i] < 0 && i != output_index_)
      fail(fmt::format("layer '{}' ({}) is never used: no layer reads it and it is not the output",
                       layers_[i].id, op_name(layers_[i].op)));
  const Shape& os = shapes_[output_index_];
  if (!os.flat || os.c != classes_)
    fail(fmt::format("the output '{}' is {}, it must be the flat vector [{}] of class scores",
                     out_id, os.to_string(), classes_));
  finalized_ = true;
}

// ---------------------------------------------------------------- JSON

namespace {
bool has_window(Op op) {
  return op == Op::conv2d || op == Op::maxpool || op == Op::avgpool;
}

std::vector<std::string> allowed_attributes(Op op) {
  switch (op) {
    case Op::conv2d:
      return {"out_channels", "kernel", "stride", "padding", "groups", "bias"};
    case Op::maxpool:
    case Op::avgpool:
      return {"kernel", "stride", "padding"};
    case Op::linear:
      return {"out_features", "bias"};
    case Op::dropout:
      return {"p"};
    default:
      return {};
  }
}
}  // namespace

nlohmann::json Architecture::to_json() const {
  nlohmann::json layers = nlohmann::json::array();
  for (const Layer& l : layers_) {
    nlohmann::json j{{"id", l.id}, {"op", std::string(op_name(l.op))}, {"inputs", l.inputs}};
    if (l.op == Op::conv2d) {
      j["out_channels"] = l.out_channels;
      j["groups"] = l.groups;
      j["bias"] = l.bias;
    }
    if (has_window(l.op)) {
      j["kernel"] = l.kernel;
      j["stride"] = l.stride;
      j["padding"] = l.padding;
    }
    if (l.op == Op::linear) {
      j["out_features"] = l.out_channels;
      j["bias"] = l.bias;
    }
    if (l.op == Op::dropout) j["p"] = l.p;
    layers.push_back(std::move(j));
  }
  return nlohmann::json{
      {"input", {input_.c, input_.h, input_.w}},
      {"classes", classes_},
      {"layers", std::move(layers)},
      {"output", output_.empty() && !layers_.empty() ? layers_.back().id : output_}};
}

std::string Architecture::to_json_string() const {
  return to_json().dump();
}

Architecture Architecture::from_json_string(std::string_view text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InvalidArchitecture(fmt::format("not valid JSON: {}", e.what()));
  }
  return from_json(j);
}

Architecture Architecture::from_json(const nlohmann::json& j) {
  auto fail = [](const std::string& msg) { throw InvalidArchitecture(msg); };
  if (!j.is_object())
    fail("architecture JSON must be an object with input, classes, layers, output");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "input" && it.key() != "classes" && it.key() != "layers" &&
        it.key() != "output")
      fail(fmt::format("unknown key '{}' (allowed: classes, input, layers, output)", it.key()));
  for (const char* k : {"input", "classes", "layers", "output"})
    if (!j.contains(k)) fail(fmt::format("missing key '{}'", k));
  const auto& jin = j["input"];
  if (!jin.is_array() || jin.size() != 3 || !std::all_of(jin.begin(), jin.end(), [](const auto& x) {
        return x.is_number_integer() && x.template get<std::int64_t>() >= 1;
      }))
    fail("'input' must be [C,H,W] with positive integers");
  if (!j["classes"].is_number_integer() || j["classes"].get<std::int64_t>() < 1)
    fail("'classes' must be a positive integer");
  if (!j["layers"].is_array()) fail("'layers' must be an array");
  if (!j["output"].is_string()) fail("'output' must be a layer id (a string)");

  std::vector<Layer> layers;
  const auto& jl = j["layers"];
  for (std::size_t i = 0; i < jl.size(); ++i) {
    const auto& x = jl[i];
    std::string where = fmt::format("layers[{}]", i);
    if (!x.is_object()) fail(where + " must be an object");
    if (!x.contains("id") || !x["id"].is_string()) fail(where + ": 'id' must be a string");
    Layer l;
    l.id = x["id"].get<std::string>();
    where += " ('" + l.id + "')";
    if (!x.contains("op") || !x["op"].is_string()) fail(where + ": 'op' must be a string");
    auto opn = x["op"].get<std::string>();
    if (!parse_op(opn, l.op)) {
      std::vector<std::string> names(op_names.begin(), op_names.end());
      std::sort(names.begin(), names.end());
      fail(fmt::format("{}: unknown op '{}' (valid: {})", where, opn, fmt::join(names, ", ")));
    }
    if (!x.contains("inputs") || !x["inputs"].is_array() || x["inputs"].empty())
      fail(where + ": 'inputs' must be a non-empty array of layer ids or \"input\"");
    for (const auto& s : x["inputs"]) {
      if (!s.is_string()) fail(where + ": 'inputs' must hold strings");
      l.inputs.push_back(s.get<std::string>());
    }
    auto allowed = allowed_attributes(l.op);
    for (auto it = x.begin(); it != x.end(); ++it) {
      const auto& k = it.key();
      if (k == "id" || k == "op" || k == "inputs") continue;
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
        fail(fmt::format("{}: unknown attribute '{}' for {} (allowed: {})", where, k, opn,
                         allowed.empty() ? "none" : fmt::format("{}", fmt::join(allowed, ", "))));
    }
    auto integer = [&](const char* key, std::int64_t def) -> std::int64_t {
      if (!x.contains(key)) return def;
      if (!x[key].is_number_integer()) fail(fmt::format("{}: '{}' must be an integer", where, key));
      return x[key].get<std::int64_t>();
    };
    auto pair = [&](const char* key, std::array<std::int64_t, 2> def) {
      if (!x.contains(key)) return def;
      const auto& v = x[key];
      if (v.is_number_integer())
        return std::array<std::int64_t, 2>{v.get<std::int64_t>(), v.get<std::int64_t>()};
      if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer())
        return std::array<std::int64_t, 2>{v[0].get<std::int64_t>(), v[1].get<std::int64_t>()};
      fail(fmt::format("{}: '{}' must be [h,w] integers", where, key));
      return def;
    };
    auto boolean = [&](const char* key, bool def) {
      if (!x.contains(key)) return def;
      if (!x[key].is_boolean()) fail(fmt::format("{}: '{}' must be true or false", where, key));
      return x[key].get<bool>();
    };
    switch (l.op) {
      case Op::conv2d:
        if (!x.contains("out_channels") || !x.contains("kernel"))
          fail(where + ": conv2d needs 'out_channels' and 'kernel'");
        l.out_channels = integer("out_channels", 0);
        l.kernel = pair("kernel", {1, 1});
        l.stride = pair("stride", {1, 1});
        l.padding = pair("padding", {0, 0});
        l.groups = integer("groups", 1);
        l.bias = boolean("bias", true);
        break;
      case Op::maxpool:
      case Op::avgpool:
        if (!x.contains("kernel")) fail(where + ": " + opn + " needs 'kernel'");
        l.kernel = pair("kernel", {1, 1});
        l.stride = pair("stride", l.kernel);
        l.padding = pair("padding", {0, 0});
        break;
      case Op::linear:
        if (!x.contains("out_features")) fail(where + ": linear needs 'out_features'");
        l.out_channels = integer("out_features", 0);
        l.bias = boolean("bias", true);
        break;
      case Op::dropout:
        if (x.contains("p")) {
          if (!x["p"].is_number()) fail(where + ": 'p' must be a number");
          l.p = x["p"].get<double>();
        }
        break;
      default:
        break;
    }
    layers.push_back(std::move(l));
  }

  // Layers may come in any order; put them in an execution order with Boost.Graph.
  const std::size_t n = layers.size();
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < n; ++i)
    if (!index.emplace(layers[i].id, i).second)
      fail(fmt::format("layer id '{}' is used twice", layers[i].id));
  bool ordered = true;
  Graph g(n);
  for (std::size_t i = 0; i < n; ++i)
    for (const auto& in : layers[i].inputs) {
      if (in == "input") continue;
      auto it = index.find(in);
      if (it == index.end())
        fail(fmt::format("layer '{}' reads unknown layer '{}'", layers[i].id, in));
      if (it->second >= i) ordered = false;
      boost::add_edge(it->second, i, g);
    }
  Architecture a(Shape{jin[0].get<std::int64_t>(), jin[1].get<std::int64_t>(),
                       jin[2].get<std::int64_t>(), false},
                 j["classes"].get<std::int64_t>());
  if (ordered) {
    for (auto& l : layers) a.add(std::move(l));
  } else {
    std::vector<std::size_t> order;
    try {
      boost::topological_sort(g, std::back_inserter(order));
    } catch (const boost::not_a_dag&) {
      fail("the layers form a cycle; an architecture must be acyclic");
    }
    std::reverse(order.begin(), order.end());
    for (auto v : order) a.add(std::move(layers[v]));
  }
  a.set_output(j["output"].get<std::string>());
  a.finalize();
  return a;
}

// ---------------------------------------------------------------- hash

namespace {
// Appends the attributes that matter for a layer's op, as little-endian 64-bit words.
void put(std::vector<std::uint64_t>& buf, std::int64_t x) {
  buf.push_back(boost::endian::native_to_little(static_cast<std::uint64_t>(x)));
}
void put_attributes(std::vector<std::uint64_t>& buf, const Layer& l) {
  put(buf, static_cast<std::int64_t>(l.op));
  if (l.op == Op::conv2d || l.op == Op::linear) {
    put(buf, l.out_channels);
    put(buf, l.bias);
  }
  if (l.op == Op::conv2d) put(buf, l.groups);
  if (has_window(l.op))
    for (auto x : {l.kernel[0], l.kernel[1], l.stride[0], l.stride[1], l.padding[0], l.padding[1]})
      put(buf, x);
  if (l.op == Op::dropout) {
    std::int64_t bits;
    std::memcpy(&bits, &l.p, sizeof bits);
    put(buf, bits);
  }
  put(buf, std::int64_t(l.inputs.size()));
}
bool hash_less(const XXH128_hash_t& a, const XXH128_hash_t& b) {
  return a.high64 != b.high64 ? a.high64 < b.high64 : a.low64 < b.low64;
}
}  // namespace

std::string Architecture::hash() const {
  if (!finalized_) {
    Architecture copy = *this;
    copy.finalize();
    return copy.hash();
  }
  const std::size_t n = layers_.size();
  std::vector<std::uint64_t> buf;
  buf.reserve(32);
  // 1. A Merkle hash per layer: its op and attributes and the hashes of its inputs, in order.
  //    Equal hashes mean equal computations, whatever the ids and the listing order.
  put(buf, input_.c);
  put(buf, input_.h);
  put(buf, input_.w);
  const XXH128_hash_t input_hash = XXH3_128bits(buf.data(), buf.size() * sizeof(std::uint64_t));
  std::vector<XXH128_hash_t> node(n);
  for (std::size_t i = 0; i < n; ++i) {
    buf.clear();
    put_attributes(buf, layers_[i]);
    for (int k : input_index_[i]) {
      const auto& h = k < 0 ? input_hash : node[std::size_t(k)];
      buf.push_back(boost::endian::native_to_little(h.high64));
      buf.push_back(boost::endian::native_to_little(h.low64));
    }
    node[i] = XXH3_128bits(buf.data(), buf.size() * sizeof(std::uint64_t));
  }
  // 2. A canonical execution order: topological, ready layers taken by smallest hash.
  std::vector<int> pending(n, 0);
  std::vector<std::vector<std::size_t>> consumers(n);
  for (std::size_t i = 0; i < n; ++i)
    for (int k : input_index_[i])
      if (k >= 0) {
        ++pending[i];
        consumers[std::size_t(k)].push_back(i);
      }
  auto later = [&](std::size_t a, std::size_t b) {
    if (hash_less(node[a], node[b])) return false;
    if (hash_less(node[b], node[a])) return true;
    return a > b;
  };
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push_back(i);
  std::make_heap(ready.begin(), ready.end(), later);
  std::vector<std::int64_t> position(n, -1);
  std::vector<std::size_t> order;
  order.reserve(n);
  while (!ready.empty()) {
    std::pop_heap(ready.begin(), ready.end(), later);
    std::size_t i = ready.back();
    ready.pop_back();
    position[i] = std::int64_t(order.size());
    order.push_back(i);
    for (std::size_t c : consumers[i])
      if (--pending[c] == 0) {
        ready.push_back(c);
        std::push_heap(ready.begin(), ready.end(), later);
      }
  }
  // 3. The graph in that order, inputs by position.
  buf.clear();
  for (auto x : {input_.c, input_.h, input_.w, classes_, std::int64_t(n)}) put(buf, x);
  for (std::size_t i : order) {
    put_attributes(buf, layers_[i]);
    for (int k : input_index_[i]) put(buf, k < 0 ? -1 : position[std::size_t(k)]);
  }
  put(buf, position[output_index_]);
  XXH128_hash_t h = XXH3_128bits(buf.data(), buf.size() * sizeof(std::uint64_t));
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

std::string architecture_table(const Architecture& a) {
  std::string out = fmt::format("input {}  classes {}\n", a.input().to_string(), a.classes());
  for (std::size_t i = 0; i < a.layers().size(); ++i) {
    const auto& l = a.layers()[i];
    std::string attrs;
    if (l.op == Op::conv2d)
      attrs = fmt::format("out {} kernel {}x{} stride {}x{} pad {}x{}{}{}", l.out_channels,
                          l.kernel[0], l.kernel[1], l.stride[0], l.stride[1], l.padding[0],
                          l.padding[1], l.groups > 1 ? fmt::format(" groups {}", l.groups) : "",
                          l.bias ? " bias" : "");
    else if (l.op == Op::maxpool || l.op == Op::avgpool)
      attrs = fmt::format("kernel {}x{} stride {}x{} pad {}x{}", l.kernel[0], l.kernel[1],
                          l.stride[0], l.stride[1], l.padding[0], l.padding[1]);
    else if (l.op == Op::linear)
      attrs = fmt::format("out {}{}", l.out_channels, l.bias ? " bias" : "");
    else if (l.op == Op::dropout)
      attrs = fmt::format("p {}", l.p);
    out += fmt::format("  {:<14} {:<15} {:<36} -> {}\n", l.id, op_name(l.op), attrs,
                       a.shape(i).to_string());
  }
  return out;
}

}  // namespace narrow
