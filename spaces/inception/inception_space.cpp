#include "inception_space.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/space_kit.hpp"

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

// A 3x3 max pooling padded by 1 (it fits any map).
Window pool3(std::int64_t stride) {
  return Window::square(3, stride, 1);
}
}  // namespace

ParamSchema InceptionSpace::schema() {
  return {
      input_parameter({3, 32, 32}),
      classes_parameter(),
      ParamSpec::integer("max_stages", 3, 1, 8, "largest number of stages"),
      ParamSpec::integer("max_modules", 3, 1, 16, "largest number of modules in a stage"),
      ParamSpec::integer("max_width", 256, 1, 4096,
                         "largest output channels of the stem and of any branch convolution"),
  };
}

InceptionSpace::InceptionSpace(const Parameters& p)
    : input_(input_shape(p, "inception")), classes_(p.integer("classes")) {
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

bool InceptionSpace::try_build(const Assignment& a, Architecture& arch, std::string&) const {
  // No assignment is invalid: padded 3x3 pooling and same-padded convolutions fit any map,
  // and a stride-2 pooling with padding 1 never makes a map smaller than 1x1.
  arch = Architecture(input_, classes_);
  const std::int64_t stages = a[stages_];
  const bool two_3x3 = a[branch5_] == 1;
  std::int64_t modules = 0;
  for (std::int64_t s = 0; s < stages; ++s) modules += a[stage_[std::size_t(s)].modules];
  arch.reserve(std::size_t(3 + modules * (two_3x3 ? 23 : 20) + (stages - 1) + 3));

  GraphBuilder b(arch);
  // conv (no bias) + batchnorm + relu, ids <id>, <id>n, <id>r; returns the id of the relu.
  auto unit = [&b](const std::string& id, const std::string& in, std::int64_t out,
                   std::int64_t kernel) {
    return b.conv_unit({id, id + "n", id + "r"}, in, Conv::same(out, kernel));
  };
  std::string x = unit("s", "input", a[stem_], 3);
  for (std::int64_t s = 1; s <= stages; ++s) {
    const StageVars& v = stage_[std::size_t(s - 1)];
    if (s > 1) x = b.pool(numbered("p", s - 1), Op::maxpool, x, pool3(2));
    const std::string sp = numbered("s", s) + "m";
    for (std::int64_t m = 1; m <= a[v.modules]; ++m) {
      // Ids like s2m1b1: stage 2, module 1, branch b (3x3), its second conv.
      std::string p = sp;
      p += std::to_string(m);
      std::vector<std::string> branches;
      branches.reserve(4);
      branches.push_back(unit(p + "a", x, a[v.ch1x1], 1));
      const std::string b0 = unit(p + "b0", x, a[v.ch3x3red], 1);
      branches.push_back(unit(p + "b1", b0, a[v.ch3x3], 3));
      const std::string c0 = unit(p + "c0", x, a[v.ch5x5red], 1);
      if (two_3x3) {
        const std::string c1 = unit(p + "c1", c0, a[v.ch5x5], 3);
        branches.push_back(unit(p + "c2", c1, a[v.ch5x5], 3));
      } else {
        branches.push_back(unit(p + "c1", c0, a[v.ch5x5], 5));
      }
      const std::string dp = b.pool(p + "dp", Op::maxpool, x, pool3(1));
      branches.push_back(unit(p + "d", dp, a[v.pool_proj], 1));
      x = b.concat(p + "k", std::move(branches));
    }
  }
  b.pooled_head(x, {.pool = "gap", .flatten = "flat"});
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
  check_reference_bounds(
      name, {{"max_stages", std::int64_t(r.stages.size()), std::int64_t(stage_.size())},
             {"max_modules", modules, max_modules},
             {"max_width", width, max_width}});
  Assignment a = minimum_assignment(vars_);
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
