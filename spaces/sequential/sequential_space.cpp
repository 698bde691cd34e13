#include "sequential_space.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/space_kit.hpp"

namespace narrow::spaces {

namespace {
const std::vector<std::string> kernel_choices{"1", "3", "5", "7"};
const std::vector<std::string> padding_choices{"same", "valid"};
const std::vector<std::string> pool_choices{"max", "avg"};
const std::vector<std::string> bn_choices{"no", "yes"};
constexpr std::int64_t kernel_of(std::int64_t index) {
  return 2 * index + 1;
}

// A reference model, described the way its paper or its common implementation does.
struct ConvSpec {
  std::int64_t filters, kernel, stride = 1;
  bool same = true;
  std::int64_t pool = 1;
  bool max_pool = true;
};
struct Reference {
  const char* name;
  bool batchnorm;
  std::vector<ConvSpec> conv;
  std::vector<std::int64_t> fc;
};
const std::vector<Reference>& reference_table() {
  static const std::vector<Reference> refs{
      // Scheidegger et al. Figure 1: three conv + BN + 2x2 pooling layers.
      {"fig1", true, {{16, 3, 1, true, 2}, {32, 3, 1, true, 2}, {64, 3, 1, true, 2}}, {}},
      // LeNet-5 (LeCun et al. 1998) with ReLU and max pooling: C1 6@5x5 (padded so that a
      // 28x28 input plays the role of the original 32x32), S2, C3 16@5x5, S4, F5 120, F6 84.
      {"lenet5", false, {{6, 5, 1, true, 2}, {16, 5, 1, false, 2}}, {120, 84}},
      // A small VGG: three blocks of two 3x3 conv + BN + ReLU, 2x2 max pooling after each
      // block, one hidden fully-connected layer of 128.
      {"vgg_small",
       true,
       {{32, 3, 1, true, 1},
        {32, 3, 1, true, 2},
        {64, 3, 1, true, 1},
        {64, 3, 1, true, 2},
        {128, 3, 1, true, 1},
        {128, 3, 1, true, 2}},
       {128}},
  };
  return refs;
}
}  // namespace

ParamSchema SequentialSpace::schema() {
  return {
      input_parameter({1, 28, 28}),
      classes_parameter(),
      ParamSpec::integer("max_conv_layers", 8, 1, 64, "largest number of conv layers"),
      ParamSpec::integer("max_fc_layers", 2, 0, 16,
                         "largest number of hidden fully-connected layers"),
      ParamSpec::integer("max_filters", 512, 1, 16384, "largest filter count of a conv layer"),
      ParamSpec::integer("max_units", 1024, 1, 65536, "largest width of a fully-connected layer"),
      ParamSpec::integer("min_units", 1, 1, 65536,
                         "smallest width of a fully-connected layer (at most max_units)"),
  };
}

SequentialSpace::SequentialSpace(const Parameters& p)
    : input_(input_shape(p, "sequential")), classes_(p.integer("classes")) {
  const auto max_conv = p.integer("max_conv_layers");
  const auto max_fc = p.integer("max_fc_layers");
  const auto max_filters = p.integer("max_filters");
  const auto max_units = p.integer("max_units");
  const auto min_units = p.integer("min_units");
  if (min_units > max_units)
    throw InputError(fmt::format(
        "space 'sequential': min_units ({}) is larger than max_units ({}); allowed: 1..{}",
        min_units, max_units, max_units));
  using K = Variable::Kind;
  conv_layers_ = add_variable(vars_, "conv_layers", K::integer, 1, max_conv, {}, -1, 0,
                              "number of conv layers");
  fc_layers_ = add_variable(vars_, "fc_layers", K::integer, 0, max_fc, {}, -1, 0,
                            "number of hidden fully-connected layers before the classifier");
  batchnorm_ = add_variable(vars_, "batchnorm", K::choice, 0, 1, bn_choices, -1, 0,
                            "batch norm after every conv layer (conv bias only without it)");
  for (std::int64_t i = 1; i <= max_conv; ++i) {
    int d = int(conv_layers_);
    auto n = [&](const char* what) { return fmt::format("conv{}.{}", i, what); };
    ConvVars c{};
    c.filters =
        add_variable(vars_, n("filters"), K::integer, 1, max_filters, {}, d, i, "output channels");
    c.kernel_h =
        add_variable(vars_, n("kernel_h"), K::choice, 0, 3, kernel_choices, d, i, "kernel height");
    c.kernel_w =
        add_variable(vars_, n("kernel_w"), K::choice, 0, 3, kernel_choices, d, i, "kernel width");
    c.stride_h = add_variable(vars_, n("stride_h"), K::integer, 1, 2, {}, d, i,
                              "vertical stride (subsampling)");
    c.stride_w = add_variable(vars_, n("stride_w"), K::integer, 1, 2, {}, d, i,
                              "horizontal stride (subsampling)");
    c.padding = add_variable(vars_, n("padding"), K::choice, 0, 1, padding_choices, d, i,
                             "same: pad kernel/2 on each side; valid: no padding");
    c.pool_h = add_variable(vars_, n("pool_h"), K::integer, 1, 3, {}, d, i,
                            "pooling height and vertical stride (1: none; at most the map height)");
    c.pool_w = add_variable(vars_, n("pool_w"), K::integer, 1, 3, {}, d, i,
                            "pooling width and horizontal stride (1: none; at most the map width)");
    c.pool_type =
        add_variable(vars_, n("pool_type"), K::choice, 0, 1, pool_choices, d, i, "pooling kind");
    conv_.push_back(c);
  }
  for (std::int64_t j = 1; j <= max_fc; ++j)
    fc_.push_back(add_variable(vars_, fmt::format("fc{}.units", j), K::integer, min_units, max_units, {},
                               int(fc_layers_), j, "width of the hidden fully-connected layer"));
}

bool SequentialSpace::try_build(const Assignment& a, Architecture& arch,
                                std::string& reason) const {
  arch = Architecture(input_, classes_);
  arch.reserve(std::size_t(4 * a[conv_layers_] + 2 * a[fc_layers_] + 2));
  GraphBuilder b(arch);
  const bool bn = a[batchnorm_] == 1;
  std::int64_t h = input_.h, w = input_.w;
  std::string x = "input";
  const auto nconv = a[conv_layers_];
  for (std::int64_t i = 0; i < nconv; ++i) {
    const ConvVars& c = conv_[std::size_t(i)];
    const auto n = std::to_string(i + 1);
    Conv conv;
    conv.out_channels = a[c.filters];
    conv.kernel = {kernel_of(a[c.kernel_h]), kernel_of(a[c.kernel_w])};
    conv.stride = {a[c.stride_h], a[c.stride_w]};
    const bool same = a[c.padding] == 0;
    conv.padding = {same ? conv.kernel[0] / 2 : 0, same ? conv.kernel[1] / 2 : 0};
    conv.bias = !bn;
    if (h + 2 * conv.padding[0] < conv.kernel[0] || w + 2 * conv.padding[1] < conv.kernel[1]) {
      reason = fmt::format("conv{}: kernel {}x{} does not fit the {}x{} map without padding", n,
                           conv.kernel[0], conv.kernel[1], h, w);
      return false;
    }
    h = (h + 2 * conv.padding[0] - conv.kernel[0]) / conv.stride[0] + 1;
    w = (w + 2 * conv.padding[1] - conv.kernel[1]) / conv.stride[1] + 1;
    x = b.conv_unit({"conv" + n, bn ? "bn" + n : "", "relu" + n}, x, conv);
    // Pooling never shrinks a map below 1x1: the window is limited to the map size.
    const std::int64_t ph = std::min(a[c.pool_h], h), pw = std::min(a[c.pool_w], w);
    if (ph > 1 || pw > 1) {
      x = b.pool("pool" + n, a[c.pool_type] == 0 ? Op::maxpool : Op::avgpool, x,
                 Window{{ph, pw}, {ph, pw}});
      h /= ph;
      w /= pw;
    }
  }
  x = b.unary("flatten", Op::flatten, x);
  for (std::int64_t j = 0; j < a[fc_layers_]; ++j) {
    const auto n = std::to_string(j + 1);
    x = b.linear("fc" + n, x, a[fc_[std::size_t(j)]]);
    x = b.unary("fc" + n + "_relu", Op::relu, x);
  }
  b.classifier("classifier", x);
  return true;
}

std::vector<std::string> SequentialSpace::references() const {
  return reference_names(reference_table());
}

Assignment SequentialSpace::reference(const std::string& name) const {
  const Reference& r = find_reference(reference_table(), name, "sequential");
  check_reference_bounds(
      name, {{"max_conv_layers", std::int64_t(r.conv.size()), std::int64_t(conv_.size())},
             {"max_fc_layers", std::int64_t(r.fc.size()), std::int64_t(fc_.size())}});
  for (const auto units : r.fc)
    if (!fc_.empty() && units < vars_[fc_.front()].min)
      throw InputError(fmt::format("reference '{}' needs min_units <= {} (this space has {})",
                                   name, units, vars_[fc_.front()].min));
  Assignment a = minimum_assignment(vars_);
  a[conv_layers_] = std::int64_t(r.conv.size());
  a[fc_layers_] = std::int64_t(r.fc.size());
  a[batchnorm_] = r.batchnorm ? 1 : 0;
  for (std::size_t i = 0; i < r.conv.size(); ++i) {
    const auto& s = r.conv[i];
    const auto& c = conv_[i];
    a[c.filters] = s.filters;
    a[c.kernel_h] = a[c.kernel_w] = (s.kernel - 1) / 2;
    a[c.stride_h] = a[c.stride_w] = s.stride;
    a[c.padding] = s.same ? 0 : 1;
    a[c.pool_h] = a[c.pool_w] = s.pool;
    a[c.pool_type] = s.max_pool ? 0 : 1;
  }
  for (std::size_t j = 0; j < r.fc.size(); ++j) a[fc_[j]] = r.fc[j];
  check_assignment(a);
  return a;
}

}  // namespace narrow::spaces
