#include "resnet_space.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/errors.hpp"

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

// Appends layers to an architecture, keeping track of the current tensor (id, channels, map).
class Builder {
 public:
  explicit Builder(Architecture& arch) : arch_(arch) {}

  std::string conv(std::string id, const std::string& from, std::int64_t out, std::int64_t k,
                   std::int64_t stride) {
    Layer l = make(std::move(id), Op::conv2d, from);
    l.out_channels = out;
    l.kernel = {k, k};
    l.stride = {stride, stride};
    l.padding = {k / 2, k / 2};
    l.bias = false;
    return push(std::move(l));
  }
  std::string unary(std::string id, Op op, const std::string& from) {
    return push(make(std::move(id), op, from));
  }
  std::string add(std::string id, const std::string& a, const std::string& b) {
    Layer l = make(std::move(id), Op::add, a);
    l.inputs.push_back(b);
    return push(std::move(l));
  }
  std::string linear(std::string id, const std::string& from, std::int64_t out) {
    Layer l = make(std::move(id), Op::linear, from);
    l.out_channels = out;
    return push(std::move(l));
  }

 private:
  static Layer make(std::string id, Op op, const std::string& from) {
    Layer l;
    l.id = std::move(id);
    l.op = op;
    l.inputs.reserve(2);
    l.inputs.push_back(from);
    return l;
  }
  std::string push(Layer l) {
    std::string id = l.id;
    arch_.add(std::move(l));
    return id;
  }
  Architecture& arch_;
};
}  // namespace

ParamSchema ResNetSpace::schema() {
  return {
      ParamSpec::integers("input", {3, 32, 32}, 1, 4096, "input shape [C,H,W]"),
      ParamSpec::integer("classes", 10, 1, 100000, "number of classes"),
      ParamSpec::integer("max_stages", 4, 1, 8, "largest number of stages"),
      ParamSpec::integer("max_blocks", 9, 1, 64, "largest number of residual blocks per stage"),
      ParamSpec::integer("max_width", 512, 1, 16384,
                         "largest width of the stem and of a stage (bottleneck width for "
                         "bottleneck blocks)"),
  };
}

ResNetSpace::ResNetSpace(const Parameters& p) {
  const auto& in = p.integers("input");
  if (in.size() != 3)
    throw InputError(
        fmt::format("space 'resnet': input must be 3 integers [C,H,W], got {}", in.size()));
  input_ = Shape{in[0], in[1], in[2], false};
  classes_ = p.integer("classes");
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

Architecture ResNetSpace::build(const Assignment& a) const {
  Architecture arch;
  std::string reason;
  if (!try_build(a, arch, reason)) throw InvalidArchitecture(reason);
  return arch;
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

  Builder b(arch);
  std::string x = b.conv("stem", "input", a[stem_width_], 3, 1);
  x = b.unary("stem_bn", Op::batchnorm, x);
  x = b.unary("stem_relu", Op::relu, x);
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
        y = b.conv(p + "c1", x, width, 1, 1);
        y = b.unary(p + "n1", Op::batchnorm, y);
        y = b.unary(p + "r1", Op::relu, y);
        y = b.conv(p + "c2", y, width, 3, stride);
        y = b.unary(p + "n2", Op::batchnorm, y);
        y = b.unary(p + "r2", Op::relu, y);
        y = b.conv(p + "c3", y, out, 1, 1);
        y = b.unary(p + "n3", Op::batchnorm, y);
      } else {
        y = b.conv(p + "c1", x, width, 3, stride);
        y = b.unary(p + "n1", Op::batchnorm, y);
        y = b.unary(p + "r1", Op::relu, y);
        y = b.conv(p + "c2", y, width, 3, 1);
        y = b.unary(p + "n2", Op::batchnorm, y);
      }
      std::string shortcut = x;
      if (project_all || stride != 1 || channels != out) {
        shortcut = b.conv(p + "pc", x, out, 1, stride);
        shortcut = b.unary(p + "pn", Op::batchnorm, shortcut);
      }
      x = b.add(p + "a", y, shortcut);
      x = b.unary(p + "r", Op::relu, x);
      channels = out;
    }
  }
  x = b.unary("pool", Op::global_avgpool, x);
  x = b.unary("flatten", Op::flatten, x);
  b.linear("fc", x, classes_);
  arch.set_output("fc");
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
  if (std::int64_t(r.stages.size()) > stages_var.max || blocks > max_blocks ||
      width > width_var.max)
    throw InputError(fmt::format(
        "reference '{}' needs max_stages >= {}, max_blocks >= {} and max_width >= {} (this "
        "space has {}, {} and {})",
        name, r.stages.size(), blocks, width, stages_var.max, max_blocks, width_var.max));
  Assignment a(vars_.size());
  for (std::size_t i = 0; i < vars_.size(); ++i) a[i] = vars_[i].min;
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
