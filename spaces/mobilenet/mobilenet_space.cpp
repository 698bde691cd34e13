#include "mobilenet_space.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/space_kit.hpp"

namespace narrow::spaces {

namespace {
const std::vector<std::string> width_mult_choices{"0.25", "0.5", "0.75", "1.0"};
const std::vector<std::string> activation_choices{"relu", "relu6"};
// Stem kernels with their padding. 3x3 and 5x5 are padded to keep the map at stride 1; 10x4
// is padded 5x1, which on a 49x10 input at stride 2 gives 25x5 like the "same" padding of the
// Keras DS-CNN.
const std::vector<std::string> stem_kernel_choices{"3x3", "5x5", "10x4"};
constexpr std::array<std::array<std::int64_t, 4>, 3> stem_kernels{{
    {3, 3, 1, 1},  // kernel h, kernel w, padding h, padding w
    {5, 5, 2, 2},
    {10, 4, 5, 1},
}};
const std::vector<std::string> dropout_choices{"none", "0.2", "0.4"};
constexpr std::array<double, 3> dropout_p{0.0, 0.2, 0.4};

struct StageSpec {
  std::int64_t width, blocks, stride;
};
struct Reference {
  const char* name;
  std::int64_t stem_kernel, stem_stride, stem_width;
  std::vector<StageSpec> stages;
};
// Both references use width multiplier 1.0, ReLU and no dropout.
const std::vector<Reference>& reference_table() {
  static const std::vector<Reference> refs{
      // MobileNetV1 (Howard et al. 2017, Table 1) with its 13 separable blocks and widths
      // 32..1024, adapted to 32x32 inputs: the stem keeps stride 1, so the four strided
      // blocks take 32x32 down to 2x2.
      {"mobilenet_v1_small",
       0,
       1,
       32,
       {{64, 1, 1}, {128, 2, 2}, {256, 2, 2}, {512, 6, 2}, {1024, 2, 2}}},
      // MLPerf Tiny keyword spotting DS-CNN (Hello Edge DS-CNN-S): a 10x4 stride-2 stem of 64
      // filters and four separable blocks of 64 channels.
      {"ds_cnn", 2, 2, 64, {{64, 4, 1}}},
  };
  return refs;
}

}  // namespace

ParamSchema MobileNetSpace::schema() {
  return {
      input_parameter({3, 32, 32}),
      classes_parameter(),
      ParamSpec::integer("max_stages", 5, 1, 8, "largest number of stages"),
      ParamSpec::integer("max_blocks", 6, 1, 64,
                         "largest number of depthwise-separable blocks per stage"),
      ParamSpec::integer("max_width", 1024, 1, 16384,
                         "largest width of the stem and of a stage, before the multiplier"),
  };
}

MobileNetSpace::MobileNetSpace(const Parameters& p)
    : input_(input_shape(p, "mobilenet")), classes_(p.integer("classes")) {
  const auto max_stages = p.integer("max_stages");
  const auto max_blocks = p.integer("max_blocks");
  const auto max_width = p.integer("max_width");
  using K = Variable::Kind;
  vars_.reserve(std::size_t(7 + 3 * max_stages));
  stages_ = add_variable(vars_, "stages", K::integer, 1, max_stages, {}, -1, 0, "number of stages");
  width_mult_ = add_variable(vars_, "width_mult", K::choice, 0, 3, width_mult_choices, -1, 0,
                             "width multiplier applied to the stem and every stage width");
  activation_ = add_variable(vars_, "activation", K::choice, 0, 1, activation_choices, -1, 0,
                             "activation after every batch norm");
  stem_kernel_ = add_variable(vars_, "stem_kernel", K::choice, 0, 2, stem_kernel_choices, -1, 0,
                              "kernel of the stem convolution (padding 1x1, 2x2, 5x1)");
  stem_stride_ =
      add_variable(vars_, "stem_stride", K::integer, 1, 2, {}, -1, 0, "stride of the stem");
  stem_width_ = add_variable(vars_, "stem_width", K::integer, 1, max_width, {}, -1, 0,
                             "output channels of the stem, before the multiplier");
  dropout_ = add_variable(vars_, "dropout", K::choice, 0, 2, dropout_choices, -1, 0,
                          "dropout before the classifier");
  for (std::int64_t i = 1; i <= max_stages; ++i) {
    const int d = int(stages_);
    StageVars s{};
    s.blocks = add_variable(vars_, fmt::format("stage{}.blocks", i), K::integer, 1, max_blocks, {},
                            d, i, "depthwise-separable blocks in the stage");
    s.width = add_variable(vars_, fmt::format("stage{}.width", i), K::integer, 1, max_width, {}, d,
                           i, "pointwise output channels of the stage, before the multiplier");
    s.stride = add_variable(vars_, fmt::format("stage{}.stride", i), K::integer, 1, 2, {}, d, i,
                            "stride of the first depthwise convolution of the stage");
    stage_.push_back(s);
  }
}

bool MobileNetSpace::try_build(const Assignment& a, Architecture& arch, std::string& reason) const {
  const auto& k = stem_kernels[std::size_t(a[stem_kernel_])];
  // 3x3 and 5x5 stems are padded to always fit; the 10x4 stem needs a width of at least 2.
  if (input_.h + 2 * k[2] < k[0] || input_.w + 2 * k[3] < k[1]) {
    reason = fmt::format("stem: kernel {}x{} does not fit the {}x{} input with padding {}x{}", k[0],
                         k[1], input_.h, input_.w, k[2], k[3]);
    return false;
  }
  arch = Architecture(input_, classes_);
  const std::int64_t quarters = a[width_mult_] + 1;
  auto scaled = [&](std::int64_t width) { return std::max<std::int64_t>(1, width * quarters / 4); };
  const Op act = a[activation_] == 0 ? Op::relu : Op::relu6;
  const auto nstages = a[stages_];
  std::size_t count = 7;
  for (std::int64_t s = 0; s < nstages; ++s)
    count += 6 * std::size_t(a[stage_[std::size_t(s)].blocks]);
  arch.reserve(count);

  GraphBuilder b(arch);
  std::int64_t channels = scaled(a[stem_width_]);
  const std::int64_t stem_stride = a[stem_stride_];
  std::string x =
      b.conv_unit({"stem", "stem_bn", "stem_act"}, "input",
                  Conv{channels, {k[0], k[1]}, {stem_stride, stem_stride}, {k[2], k[3]}}, act);
  for (std::int64_t s = 0; s < nstages; ++s) {
    const StageVars& sv = stage_[std::size_t(s)];
    const std::int64_t width = scaled(a[sv.width]);
    const std::int64_t nblocks = a[sv.blocks];
    for (std::int64_t j = 0; j < nblocks; ++j) {
      const std::string p = fmt::format("s{}b{}", s + 1, j + 1);
      const std::int64_t stride = j == 0 ? a[sv.stride] : 1;
      x = b.conv_unit({p + "d", p + "dn", p + "dr"}, x, Conv::depthwise(channels, 3, stride), act);
      x = b.conv_unit({p + "p", p + "pn", p + "pr"}, x, Conv::same(width, 1), act);
      channels = width;
    }
  }
  b.pooled_head(x, {}, dropout_p[std::size_t(a[dropout_])]);
  return true;
}

std::vector<std::string> MobileNetSpace::references() const {
  return reference_names(reference_table());
}

Assignment MobileNetSpace::reference(const std::string& name) const {
  const Reference& r = find_reference(reference_table(), name, "mobilenet");
  std::int64_t blocks = 0, width = r.stem_width;
  for (const auto& s : r.stages) {
    blocks = std::max(blocks, s.blocks);
    width = std::max(width, s.width);
  }
  const auto max_stages = vars_[stages_].max;
  const auto max_blocks = vars_[stage_.front().blocks].max;
  const auto max_width = vars_[stem_width_].max;
  check_reference_bounds(name, {{"max_stages", std::int64_t(r.stages.size()), max_stages},
                                {"max_blocks", blocks, max_blocks},
                                {"max_width", width, max_width}});
  Assignment a = minimum_assignment(vars_);
  a[stages_] = std::int64_t(r.stages.size());
  a[width_mult_] = 3;
  a[activation_] = 0;
  a[stem_kernel_] = r.stem_kernel;
  a[stem_stride_] = r.stem_stride;
  a[stem_width_] = r.stem_width;
  a[dropout_] = 0;
  for (std::size_t i = 0; i < r.stages.size(); ++i) {
    a[stage_[i].blocks] = r.stages[i].blocks;
    a[stage_[i].width] = r.stages[i].width;
    a[stage_[i].stride] = r.stages[i].stride;
  }
  check_assignment(a);
  return a;
}

}  // namespace narrow::spaces
