#include "resnet_space.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/space_kit.hpp"

namespace narrow::spaces {

namespace {
const std::vector<std::string> block_choices{"basic", "bottleneck"};
const std::vector<std::string> shortcut_choices{"identity", "projection"};
constexpr std::int64_t bottleneck_expansion = 4;

struct StageSpec {
  std::int64_t blocks, width;
};
struct Reference {
  const char* name;
  std::int64_t stem;
  std::vector<StageSpec> stages;
};
// All references use basic blocks, identity shortcuts where the shape is kept and 1x1
// projections where it changes.
const std::vector<Reference>& reference_table() {
  static const std::vector<Reference> refs{
      // MLPerf Tiny image classification: one basic block per stage.
      {"resnet8", 16, {{1, 16}, {1, 32}, {1, 64}}},
      // He et al. 2016, section 4.2: 6n+2 layers with n = 3 and n = 9.
      {"resnet20", 16, {{3, 16}, {3, 32}, {3, 64}}},
      {"resnet56", 16, {{9, 16}, {9, 32}, {9, 64}}},
  };
  return refs;
}

}  // namespace

ParamSchema ResNetSpace::schema() {
  return {
      input_parameter({3, 32, 32}),
      classes_parameter(),
      ParamSpec::integer("max_stages", 4, 1, 8, "largest number of stages"),
      ParamSpec::integer("max_blocks", 9, 1, 64, "largest number of residual blocks per stage"),
      ParamSpec::integer("max_width", 512, 1, 16384,
                         "largest width of the stem and of a stage (bottleneck width for "
                         "bottleneck blocks)"),
  };
}

ResNetSpace::ResNetSpace(const Parameters& p)
    : input_(input_shape(p, "resnet")), classes_(p.integer("classes")) {
  const auto max_stages = p.integer("max_stages");
  const auto max_blocks = p.integer("max_blocks");
  const auto max_width = p.integer("max_width");
  using K = Variable::Kind;
  vars_.reserve(std::size_t(4 + 2 * max_stages));
  stages_ = add_variable(vars_, "stages", K::integer, 1, max_stages, {}, -1, 0,
                         "number of stages; every stage after the first halves the map");
  block_ = add_variable(vars_, "block", K::choice, 0, 1, block_choices, -1, 0,
                        "basic: two 3x3 convs; bottleneck: 1x1 reduce, 3x3, 1x1 expand x4");
  shortcut_ =
      add_variable(vars_, "shortcut", K::choice, 0, 1, shortcut_choices, -1, 0,
                   "identity: identity where the shape is kept, 1x1 projection where it changes; "
                   "projection: 1x1 projection on every block");
  stem_width_ = add_variable(vars_, "stem_width", K::integer, 1, max_width, {}, -1, 0,
                             "output channels of the 3x3 stem convolution");
  for (std::int64_t i = 1; i <= max_stages; ++i) {
    const int d = int(stages_);
    StageVars s{};
    s.blocks = add_variable(vars_, fmt::format("stage{}.blocks", i), K::integer, 1, max_blocks, {},
                            d, i, "residual blocks in the stage");
    s.width = add_variable(vars_, fmt::format("stage{}.width", i), K::integer, 1, max_width, {}, d,
                           i, "width of the stage (its output has 4x this with bottleneck blocks)");
    stage_.push_back(s);
  }
}

// Every assignment gives a valid network: 3x3 convolutions are padded by 1 and 1x1 ones by
// 0, so at stride 2 both give floor((H - 1) / 2) + 1 >= 1 rows, and the residual branch and
// the shortcut always agree in shape. try_build never returns false.
bool ResNetSpace::try_build(const Assignment& a, Architecture& arch, std::string&) const {
  arch = Architecture(input_, classes_);
  const bool bottleneck = a[block_] == 1;
  const bool project_all = a[shortcut_] == 1;
  const auto nstages = a[stages_];
  std::size_t count = 6;
  for (std::int64_t s = 0; s < nstages; ++s)
    count += std::size_t(a[stage_[std::size_t(s)].blocks]) * (bottleneck ? 11 : 9);
  arch.reserve(count);

  GraphBuilder b(arch);
  std::string x =
      b.conv_unit({"stem", "stem_bn", "stem_relu"}, "input", Conv::same(a[stem_width_], 3));
  std::int64_t channels = a[stem_width_];
  for (std::int64_t s = 0; s < nstages; ++s) {
    const StageVars& sv = stage_[std::size_t(s)];
    const std::int64_t width = a[sv.width];
    const std::int64_t out = bottleneck ? bottleneck_expansion * width : width;
    const std::int64_t nblocks = a[sv.blocks];
    for (std::int64_t k = 0; k < nblocks; ++k) {
      const std::int64_t stride = (s > 0 && k == 0) ? 2 : 1;
      const std::string p = fmt::format("s{}b{}", s + 1, k + 1);
      std::string y;
      if (bottleneck) {
        y = b.conv_unit({p + "c1", p + "n1", p + "r1"}, x, Conv::same(width, 1));
        y = b.conv_unit({p + "c2", p + "n2", p + "r2"}, y, Conv::same(width, 3, stride));
        y = b.conv_unit({p + "c3", p + "n3", ""}, y, Conv::same(out, 1));
      } else {
        y = b.conv_unit({p + "c1", p + "n1", p + "r1"}, x, Conv::same(width, 3, stride));
        y = b.conv_unit({p + "c2", p + "n2", ""}, y, Conv::same(width, 3));
      }
      std::string shortcut = x;
      if (project_all || stride != 1 || channels != out)
        shortcut = b.conv_unit({p + "pc", p + "pn", ""}, x, Conv::same(out, 1, stride));
      x = b.add(p + "a", y, shortcut);
      x = b.unary(p + "r", Op::relu, x);
      channels = out;
    }
  }
  b.pooled_head(x);
  return true;
}

std::vector<std::string> ResNetSpace::references() const {
  return reference_names(reference_table());
}

Assignment ResNetSpace::reference(const std::string& name) const {
  const Reference& r = find_reference(reference_table(), name, "resnet");
  std::int64_t blocks = 0, width = r.stem;
  for (const auto& s : r.stages) {
    blocks = std::max(blocks, s.blocks);
    width = std::max(width, s.width);
  }
  const auto& stages_var = vars_[stages_];
  const auto& width_var = vars_[stem_width_];
  const auto max_blocks = vars_[stage_.front().blocks].max;
  check_reference_bounds(name, {{"max_stages", std::int64_t(r.stages.size()), stages_var.max},
                                {"max_blocks", blocks, max_blocks},
                                {"max_width", width, width_var.max}});
  Assignment a = minimum_assignment(vars_);
  a[stages_] = std::int64_t(r.stages.size());
  a[block_] = 0;
  a[shortcut_] = 0;
  a[stem_width_] = r.stem;
  for (std::size_t i = 0; i < r.stages.size(); ++i) {
    a[stage_[i].blocks] = r.stages[i].blocks;
    a[stage_[i].width] = r.stages[i].width;
  }
  check_assignment(a);
  return a;
}

}  // namespace narrow::spaces
