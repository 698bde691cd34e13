#include "densenet_space.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/errors.hpp"

namespace narrow::spaces {

namespace {
const std::vector<std::string> bottleneck_choices{"no", "yes"};
// Compression theta of the transitions: a transition keeps floor(theta * C) of C channels.
const std::vector<std::string> compression_choices{"1.0", "0.5"};
// Stem width: 16 channels (DenseNet) or twice the growth rate (DenseNet-BC).
const std::vector<std::string> stem_choices{"16", "2k"};

struct Reference {
  const char* name;
  std::int64_t blocks, layers, growth;
  bool bottleneck, half_compression, stem_2k;
};
// Huang et al. 2017, Table 2 (CIFAR): DenseNet (L=40, k=12) has (40 - 4) / 3 = 12 layers per
// block; DenseNet-BC (L=100, k=12) has (100 - 4) / 6 = 16 bottleneck layers per block.
const std::vector<Reference>& reference_table() {
  static const std::vector<Reference> refs{
      {"densenet40_k12", 3, 12, 12, false, false, false},
      {"densenet_bc100_k12", 3, 16, 12, true, true, true},
  };
  return refs;
}

// "<letter><number>", e.g. "t2", without the temporary strings of "t" + std::to_string(2).
std::string numbered(char letter, std::int64_t n) {
  char buf[24];
  buf[0] = letter;
  auto end = std::to_chars(buf + 1, buf + sizeof buf, n).ptr;
  return std::string(buf, end);
}

Layer make_layer(std::string id, Op op, const std::string& in) {
  Layer l;
  l.id = std::move(id);
  l.op = op;
  l.inputs.reserve(1);
  l.inputs.push_back(in);
  return l;
}

Layer make_conv(std::string id, const std::string& in, std::int64_t out, std::int64_t kernel) {
  Layer l = make_layer(std::move(id), Op::conv2d, in);
  l.out_channels = out;
  l.kernel = {kernel, kernel};
  l.padding = {kernel / 2, kernel / 2};
  l.bias = false;
  return l;
}
}  // namespace

ParamSchema DenseNetSpace::schema() {
  return {
      ParamSpec::integers("input", {3, 32, 32}, 1, 4096, "input shape [C,H,W]"),
      ParamSpec::integer("classes", 10, 1, 100000, "number of classes"),
      ParamSpec::integer("max_blocks", 3, 1, 8, "largest number of dense blocks"),
      ParamSpec::integer("max_layers", 16, 1, 64, "largest number of layers in a dense block"),
      ParamSpec::integer("max_growth", 32, 1, 256, "largest growth rate k"),
  };
}

DenseNetSpace::DenseNetSpace(const Parameters& p) {
  const auto& in = p.integers("input");
  input_ = Shape{in[0], in[1], in[2], false};
  classes_ = p.integer("classes");
  const auto max_blocks = p.integer("max_blocks");
  const auto max_layers = p.integer("max_layers");
  const auto max_growth = p.integer("max_growth");
  // Each of the max_blocks - 1 transitions halves the map with a 2x2 average pooling.
  const std::int64_t need = std::int64_t(1) << (max_blocks - 1);
  if (input_.h < need || input_.w < need)
    throw InputError(fmt::format(
        "space 'densenet': input {}x{} is too small for max_blocks = {} (its {} transitions "
        "halve the map; it needs at least {}x{}); lower max_blocks",
        input_.h, input_.w, max_blocks, max_blocks - 1, need, need));
  using K = Variable::Kind;
  vars_.reserve(std::size_t(5 + max_blocks));
  blocks_ = add_variable(vars_, "blocks", K::integer, 1, max_blocks, {}, -1, 0,
                         "number of dense blocks (a transition between two blocks)");
  growth_ = add_variable(vars_, "growth", K::integer, 1, max_growth, {}, -1, 0,
                         "growth rate k: channels each dense layer adds");
  bottleneck_ = add_variable(vars_, "bottleneck", K::choice, 0, 1, bottleneck_choices, -1, 0,
                             "yes: BN-ReLU-conv1x1(4k) before each 3x3 conv (DenseNet-B)");
  compression_ = add_variable(vars_, "compression", K::choice, 0, 1, compression_choices, -1, 0,
                              "theta: a transition keeps floor(theta * C) channels (DenseNet-C)");
  stem_ = add_variable(vars_, "stem", K::choice, 0, 1, stem_choices, -1, 0,
                       "output channels of the 3x3 stem convolution: 16 or 2k");
  for (std::int64_t i = 1; i <= max_blocks; ++i)
    layers_.push_back(add_variable(vars_, fmt::format("block{}.layers", i), K::integer, 1,
                                   max_layers, {}, int(blocks_), i, "dense layers in the block"));
}

Architecture DenseNetSpace::build(const Assignment& a) const {
  Architecture arch;
  std::string reason;
  if (!try_build(a, arch, reason)) throw InvalidArchitecture(reason);
  return arch;
}

bool DenseNetSpace::try_build(const Assignment& a, Architecture& arch, std::string&) const {
  // No assignment is invalid: the constructor made sure the map survives every transition.
  arch = Architecture(input_, classes_);
  const std::int64_t blocks = a[blocks_], k = a[growth_];
  const bool bottleneck = a[bottleneck_] == 1;
  const bool half = a[compression_] == 1;
  std::int64_t dense = 0;
  for (std::int64_t b = 0; b < blocks; ++b) dense += a[layers_[std::size_t(b)]];
  arch.reserve(std::size_t(1 + dense * (bottleneck ? 7 : 4) + 4 * (blocks - 1) + 5));

  std::string x = "s";
  arch.add(make_conv(x, "input", a[stem_] == 0 ? 16 : 2 * k, 3));
  std::int64_t channels = a[stem_] == 0 ? 16 : 2 * k;
  for (std::int64_t b = 1; b <= blocks; ++b) {
    std::string bp = numbered('b', b);
    bp += 'l';
    const std::int64_t n = a[layers_[std::size_t(b - 1)]];
    for (std::int64_t l = 1; l <= n; ++l) {
      // Ids like b2l7n1: block 2, layer 7, first batch norm.
      std::string p = bp;
      p += std::to_string(l);
      std::string y = x;
      if (bottleneck) {
        arch.add(make_layer(p + "n1", Op::batchnorm, y));
        arch.add(make_layer(p + "r1", Op::relu, p + "n1"));
        arch.add(make_conv(p + "c1", p + "r1", 4 * k, 1));
        y = p + "c1";
      }
      arch.add(make_layer(p + "n", Op::batchnorm, y));
      arch.add(make_layer(p + "r", Op::relu, p + "n"));
      arch.add(make_conv(p + "c", p + "r", k, 3));
      Layer cat = make_layer(p + "k", Op::concat, x);
      cat.inputs.push_back(p + "c");
      x = cat.id;
      arch.add(std::move(cat));
      channels += k;
    }
    if (b < blocks) {
      const std::string t = numbered('t', b);
      channels = half ? channels / 2 : channels;
      arch.add(make_layer(t + "n", Op::batchnorm, x));
      arch.add(make_layer(t + "r", Op::relu, t + "n"));
      arch.add(make_conv(t + "c", t + "r", channels, 1));
      Layer pool = make_layer(t + "p", Op::avgpool, t + "c");
      pool.kernel = {2, 2};
      pool.stride = {2, 2};
      x = pool.id;
      arch.add(std::move(pool));
    }
  }
  arch.add(make_layer("fn", Op::batchnorm, x));
  arch.add(make_layer("fr", Op::relu, "fn"));
  arch.add(make_layer("gap", Op::global_avgpool, "fr"));
  arch.add(make_layer("flat", Op::flatten, "gap"));
  Layer fc = make_layer("fc", Op::linear, "flat");
  fc.out_channels = classes_;
  arch.add(std::move(fc));
  arch.set_output("fc");
  return true;
}

std::vector<std::string> DenseNetSpace::references() const {
  return reference_names(reference_table());
}

Assignment DenseNetSpace::reference(const std::string& name) const {
  const Reference& r = find_reference(reference_table(), name, "densenet");
  const auto max_layers = vars_[layers_.front()].max, max_growth = vars_[growth_].max;
  if (std::int64_t(layers_.size()) < r.blocks || max_layers < r.layers || max_growth < r.growth)
    throw InputError(fmt::format(
        "reference '{}' needs max_blocks >= {}, max_layers >= {} and max_growth >= {} (this "
        "space has {}, {} and {})",
        name, r.blocks, r.layers, r.growth, layers_.size(), max_layers, max_growth));
  Assignment a(vars_.size());
  for (std::size_t i = 0; i < vars_.size(); ++i) a[i] = vars_[i].min;
  a[blocks_] = r.blocks;
  a[growth_] = r.growth;
  a[bottleneck_] = r.bottleneck ? 1 : 0;
  a[compression_] = r.half_compression ? 1 : 0;
  a[stem_] = r.stem_2k ? 1 : 0;
  for (std::int64_t b = 0; b < r.blocks; ++b) a[layers_[std::size_t(b)]] = r.layers;
  check_assignment(a);
  return a;
}

}  // namespace narrow::spaces
