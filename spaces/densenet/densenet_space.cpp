#include "densenet_space.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/errors.hpp"
#include "narrow/space_kit.hpp"

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

}  // namespace

ParamSchema DenseNetSpace::schema() {
  return {
      input_parameter({3, 32, 32}),
      classes_parameter(),
      ParamSpec::integer("max_blocks", 3, 1, 8, "largest number of dense blocks"),
      ParamSpec::integer("max_layers", 16, 1, 64, "largest number of layers in a dense block"),
      ParamSpec::integer("max_growth", 32, 1, 256, "largest growth rate k"),
  };
}

DenseNetSpace::DenseNetSpace(const Parameters& p)
    : input_(input_shape(p, "densenet")), classes_(p.integer("classes")) {
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

bool DenseNetSpace::try_build(const Assignment& a, Architecture& arch, std::string&) const {
  // No assignment is invalid: the constructor made sure the map survives every transition.
  arch = Architecture(input_, classes_);
  const std::int64_t blocks = a[blocks_], k = a[growth_];
  const bool bottleneck = a[bottleneck_] == 1;
  const bool half = a[compression_] == 1;
  std::int64_t dense = 0;
  for (std::int64_t i = 0; i < blocks; ++i) dense += a[layers_[std::size_t(i)]];
  arch.reserve(std::size_t(1 + dense * (bottleneck ? 7 : 4) + 4 * (blocks - 1) + 5));

  GraphBuilder b(arch);
  std::int64_t channels = a[stem_] == 0 ? 16 : 2 * k;
  std::string x = b.conv("s", "input", Conv::same(channels, 3));
  for (std::int64_t blk = 1; blk <= blocks; ++blk) {
    std::string bp = numbered('b', blk);
    bp += 'l';
    const std::int64_t n = a[layers_[std::size_t(blk - 1)]];
    for (std::int64_t l = 1; l <= n; ++l) {
      // Ids like b2l7n1: block 2, layer 7, first batch norm.
      std::string p = bp;
      p += std::to_string(l);
      std::string y = x;
      if (bottleneck) y = b.norm_act_conv({p + "c1", p + "n1", p + "r1"}, y, Conv::same(4 * k, 1));
      y = b.norm_act_conv({p + "c", p + "n", p + "r"}, y, Conv::same(k, 3));
      x = b.concat(p + "k", {x, y});
      channels += k;
    }
    if (blk < blocks) {
      const std::string t = numbered('t', blk);
      channels = half ? channels / 2 : channels;
      const std::string c =
          b.norm_act_conv({t + "c", t + "n", t + "r"}, x, Conv::same(channels, 1));
      x = b.pool(t + "p", Op::avgpool, c, Window::square(2, 2));
    }
  }
  x = b.unary("fn", Op::batchnorm, x);
  x = b.unary("fr", Op::relu, x);
  b.pooled_head(x, {.pool = "gap", .flatten = "flat"});
  return true;
}

std::vector<std::string> DenseNetSpace::references() const {
  return reference_names(reference_table());
}

Assignment DenseNetSpace::reference(const std::string& name) const {
  const Reference& r = find_reference(reference_table(), name, "densenet");
  const auto max_layers = vars_[layers_.front()].max, max_growth = vars_[growth_].max;
  check_reference_bounds(name, {{"max_blocks", r.blocks, std::int64_t(layers_.size())},
                                {"max_layers", r.layers, max_layers},
                                {"max_growth", r.growth, max_growth}});
  Assignment a = minimum_assignment(vars_);
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
