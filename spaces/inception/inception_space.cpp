#include "inception_space.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/errors.hpp"

namespace narrow::spaces {

namespace {
// The third branch: a 5x5 convolution (GoogLeNet) or two stacked 3x3 convolutions, which see
// the same 5x5 window with fewer weights (the factorisation of Inception v2/BN-Inception).
const std::vector<std::string> branch5_choices{"5x5", "3x3x2"};

// Branch widths of the modules of one stage, in the column order of GoogLeNet's Table 1.
struct StageSpec {
  std::int64_t modules, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj;
};
struct Reference {
  const char* name;
  std::int64_t stem;
  bool two_3x3;
  std::vector<StageSpec> stages;
};
const std::vector<Reference>& reference_table() {
  static const std::vector<Reference> refs{
      // A small GoogLeNet for 32x32 inputs: stem 64, then stages of two modules at 32x32,
      // 16x16 and 8x8 with the widths of GoogLeNet's modules 3a, 4a and 5a (the latter
      // halved).
      {"googlenet_small",
       64,
       false,
       {{2, 64, 96, 128, 16, 32, 32},
        {2, 192, 96, 208, 16, 48, 64},
        {2, 128, 80, 160, 16, 64, 64}}},
  };
  return refs;
}

// "<prefix><number>" without the temporaries of string + std::to_string.
std::string numbered(const char* prefix, std::int64_t n) {
  char buf[32];
  std::size_t len = 0;
  while (prefix[len] != '\0' && len < 16) {
    buf[len] = prefix[len];
    ++len;
  }
  auto end = std::to_chars(buf + len, buf + sizeof buf, n).ptr;
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

// conv (no bias) + batchnorm + relu; returns the id of the relu.
std::string conv_bn_relu(Architecture& arch, const std::string& id, const std::string& in,
                         std::int64_t out, std::int64_t kernel) {
  Layer c = make_layer(id, Op::conv2d, in);
  c.out_channels = out;
  c.kernel = {kernel, kernel};
  c.padding = {kernel / 2, kernel / 2};
  c.bias = false;
  arch.add(std::move(c));
  arch.add(make_layer(id + "n", Op::batchnorm, id));
  arch.add(make_layer(id + "r", Op::relu, id + "n"));
  return id + "r";
}

Layer make_pool(std::string id, const std::string& in, std::int64_t stride) {
  Layer p = make_layer(std::move(id), Op::maxpool, in);
  p.kernel = {3, 3};
  p.stride = {stride, stride};
  p.padding = {1, 1};
  return p;
}
}  // namespace

ParamSchema InceptionSpace::schema() {
  return {
      ParamSpec::integers("input", {3, 32, 32}, 1, 4096, "input shape [C,H,W]"),
      ParamSpec::integer("classes", 10, 1, 100000, "number of classes"),
      ParamSpec::integer("max_stages", 3, 1, 8, "largest number of stages"),
      ParamSpec::integer("max_modules", 3, 1, 16, "largest number of modules in a stage"),
      ParamSpec::integer("max_width", 256, 1, 4096,
                         "largest output channels of the stem and of any branch convolution"),
  };
}

InceptionSpace::InceptionSpace(const Parameters& p) {
  const auto& in = p.integers("input");
  input_ = Shape{in[0], in[1], in[2], false};
  classes_ = p.integer("classes");
  const auto max_stages = p.integer("max_stages");
  const auto max_modules = p.integer("max_modules");
  const auto max_width = p.integer("max_width");
  using K = Variable::Kind;
  vars_.reserve(std::size_t(3 + 7 * max_stages));
  stages_ = add_variable(vars_, "stages", K::integer, 1, max_stages, {}, -1, 0,
                         "number of stages (3x3/2 max pooling between two stages)");
  stem_ = add_variable(vars_, "stem", K::integer, 1, max_width, {}, -1, 0,
                       "output channels of the 3x3 stem convolution");
  branch5_ = add_variable(vars_, "branch5", K::choice, 0, 1, branch5_choices, -1, 0,
                          "third branch after its 1x1 reduce: one 5x5 conv or two 3x3 convs");
  for (std::int64_t s = 1; s <= max_stages; ++s) {
    const int d = int(stages_);
    auto n = [&](const char* what) { return fmt::format("stage{}.{}", s, what); };
    StageVars v{};
    v.modules = add_variable(vars_, n("modules"), K::integer, 1, max_modules, {}, d, s,
                             "Inception modules in the stage");
    v.ch1x1 = add_variable(vars_, n("ch1x1"), K::integer, 1, max_width, {}, d, s,
                           "1x1 branch: output channels");
    v.ch3x3red = add_variable(vars_, n("ch3x3red"), K::integer, 1, max_width, {}, d, s,
                              "3x3 branch: channels of the 1x1 reduce");
    v.ch3x3 = add_variable(vars_, n("ch3x3"), K::integer, 1, max_width, {}, d, s,
                           "3x3 branch: output channels");
    v.ch5x5red = add_variable(vars_, n("ch5x5red"), K::integer, 1, max_width, {}, d, s,
                              "5x5 branch: channels of the 1x1 reduce");
    v.ch5x5 = add_variable(vars_, n("ch5x5"), K::integer, 1, max_width, {}, d, s,
                           "5x5 branch: output channels (of both 3x3 convs when branch5 = 3x3x2)");
    v.pool_proj = add_variable(vars_, n("pool_proj"), K::integer, 1, max_width, {}, d, s,
                               "pool branch: output channels of the 1x1 projection");
    stage_.push_back(v);
  }
}

Architecture InceptionSpace::build(const Assignment& a) const {
  Architecture arch;
  std::string reason;
  if (!try_build(a, arch, reason)) throw InvalidArchitecture(reason);
  return arch;
}

bool InceptionSpace::try_build(const Assignment& a, Architecture& arch, std::string&) const {
  // No assignment is invalid: padded 3x3 pooling and same-padded convolutions fit any map,
  // and a stride-2 pooling with padding 1 never makes a map smaller than 1x1.
  arch = Architecture(input_, classes_);
  const std::int64_t stages = a[stages_];
  const bool two_3x3 = a[branch5_] == 1;
  std::int64_t modules = 0;
  for (std::int64_t s = 0; s < stages; ++s) modules += a[stage_[std::size_t(s)].modules];
  arch.reserve(std::size_t(3 + modules * (two_3x3 ? 23 : 20) + (stages - 1) + 3));

  std::string x = conv_bn_relu(arch, "s", "input", a[stem_], 3);
  for (std::int64_t s = 1; s <= stages; ++s) {
    const StageVars& v = stage_[std::size_t(s - 1)];
    if (s > 1) {
      Layer pool = make_pool(numbered("p", s - 1), x, 2);
      x = pool.id;
      arch.add(std::move(pool));
    }
    const std::string sp = numbered("s", s) + "m";
    for (std::int64_t m = 1; m <= a[v.modules]; ++m) {
      // Ids like s2m1b1: stage 2, module 1, branch b (3x3), its second conv.
      std::string p = sp;
      p += std::to_string(m);
      Layer cat;
      cat.id = p + "k";
      cat.op = Op::concat;
      cat.inputs.reserve(4);
      cat.inputs.push_back(conv_bn_relu(arch, p + "a", x, a[v.ch1x1], 1));
      const std::string b0 = conv_bn_relu(arch, p + "b0", x, a[v.ch3x3red], 1);
      cat.inputs.push_back(conv_bn_relu(arch, p + "b1", b0, a[v.ch3x3], 3));
      const std::string c0 = conv_bn_relu(arch, p + "c0", x, a[v.ch5x5red], 1);
      if (two_3x3) {
        const std::string c1 = conv_bn_relu(arch, p + "c1", c0, a[v.ch5x5], 3);
        cat.inputs.push_back(conv_bn_relu(arch, p + "c2", c1, a[v.ch5x5], 3));
      } else {
        cat.inputs.push_back(conv_bn_relu(arch, p + "c1", c0, a[v.ch5x5], 5));
      }
      arch.add(make_pool(p + "dp", x, 1));
      cat.inputs.push_back(conv_bn_relu(arch, p + "d", p + "dp", a[v.pool_proj], 1));
      x = cat.id;
      arch.add(std::move(cat));
    }
  }
  arch.add(make_layer("gap", Op::global_avgpool, x));
  arch.add(make_layer("flat", Op::flatten, "gap"));
  Layer fc = make_layer("fc", Op::linear, "flat");
  fc.out_channels = classes_;
  arch.add(std::move(fc));
  arch.set_output("fc");
  return true;
}

std::vector<std::string> InceptionSpace::references() const {
  return reference_names(reference_table());
}

Assignment InceptionSpace::reference(const std::string& name) const {
  const Reference& r = find_reference(reference_table(), name, "inception");
  std::int64_t modules = 0, width = r.stem;
  for (const auto& s : r.stages) {
    modules = std::max(modules, s.modules);
    width = std::max({width, s.ch1x1, s.ch3x3red, s.ch3x3, s.ch5x5red, s.ch5x5, s.pool_proj});
  }
  const auto max_modules = vars_[stage_.front().modules].max, max_width = vars_[stem_].max;
  if (r.stages.size() > stage_.size() || modules > max_modules || width > max_width)
    throw InputError(fmt::format(
        "reference '{}' needs max_stages >= {}, max_modules >= {} and max_width >= {} (this "
        "space has {}, {} and {})",
        name, r.stages.size(), modules, width, stage_.size(), max_modules, max_width));
  Assignment a(vars_.size());
  for (std::size_t i = 0; i < vars_.size(); ++i) a[i] = vars_[i].min;
  a[stages_] = std::int64_t(r.stages.size());
  a[stem_] = r.stem;
  a[branch5_] = r.two_3x3 ? 1 : 0;
  for (std::size_t i = 0; i < r.stages.size(); ++i) {
    const auto& s = r.stages[i];
    const auto& v = stage_[i];
    a[v.modules] = s.modules;
    a[v.ch1x1] = s.ch1x1;
    a[v.ch3x3red] = s.ch3x3red;
    a[v.ch3x3] = s.ch3x3;
    a[v.ch5x5red] = s.ch5x5red;
    a[v.ch5x5] = s.ch5x5;
    a[v.pool_proj] = s.pool_proj;
  }
  check_assignment(a);
  return a;
}

}  // namespace narrow::spaces
