#include "narrow/space_kit.hpp"

#include <utility>

#include <fmt/format.h>

#include "narrow/errors.hpp"

namespace narrow {

ParamSpec input_parameter(std::vector<std::int64_t> default_shape, std::string help) {
  return ParamSpec::integers("input", std::move(default_shape), 1, 4096, std::move(help));
}

ParamSpec classes_parameter(std::int64_t default_classes, std::string help) {
  return ParamSpec::integer("classes", default_classes, 1, 100000, std::move(help));
}

Shape input_shape(const Parameters& parameters, std::string_view space) {
  const auto& in = parameters.integers("input");
  if (in.size() != 3)
    throw InputError(
        fmt::format("space '{}': input must be 3 integers [C,H,W], got {}", space, in.size()));
  return Shape{in[0], in[1], in[2], false};
}

Assignment minimum_assignment(const std::vector<Variable>& variables) {
  Assignment a(variables.size());
  for (std::size_t i = 0; i < variables.size(); ++i) a[i] = variables[i].min;
  return a;
}

void check_reference_bounds(const std::string& reference,
                            std::initializer_list<ReferenceBound> bounds) {
  bool short_of_one = false;
  for (const auto& b : bounds) short_of_one = short_of_one || b.needed > b.available;
  if (!short_of_one) return;
  // "a", "a and b", "a, b and c".
  std::string needs, has;
  std::size_t i = 0;
  for (const auto& b : bounds) {
    const char* sep = i == 0 ? "" : (i + 1 == bounds.size() ? " and " : ", ");
    needs += fmt::format("{}{} >= {}", sep, b.parameter, b.needed);
    has += fmt::format("{}{}", sep, b.available);
    ++i;
  }
  throw InputError(
      fmt::format("reference '{}' needs {} (this space has {})", reference, needs, has));
}

Architecture build_or_throw(const SearchSpace& space, const Assignment& a) {
  Architecture arch;
  std::string reason;
  if (!space.try_build(a, arch, reason)) throw InvalidArchitecture(reason);
  return arch;
}

namespace {
Layer reading(std::string id, Op op, const std::string& from) {
  Layer l;
  l.id = std::move(id);
  l.op = op;
  l.inputs.push_back(from);
  return l;
}
}  // namespace

std::string GraphBuilder::push(Layer layer) {
  std::string id = layer.id;
  arch_.add(std::move(layer));
  return id;
}

std::string GraphBuilder::unary(std::string id, Op op, const std::string& from) {
  return push(reading(std::move(id), op, from));
}

std::string GraphBuilder::conv(std::string id, const std::string& from, const Conv& conv) {
  Layer l = reading(std::move(id), Op::conv2d, from);
  l.out_channels = conv.out_channels;
  l.kernel = conv.kernel;
  l.stride = conv.stride;
  l.padding = conv.padding;
  l.groups = conv.groups;
  l.bias = conv.bias;
  return push(std::move(l));
}

std::string GraphBuilder::pool(std::string id, Op op, const std::string& from,
                               const Window& window) {
  Layer l = reading(std::move(id), op, from);
  l.kernel = window.kernel;
  l.stride = window.stride;
  l.padding = window.padding;
  return push(std::move(l));
}

std::string GraphBuilder::add(std::string id, const std::string& a, const std::string& b) {
  Layer l = reading(std::move(id), Op::add, a);
  l.inputs.push_back(b);
  return push(std::move(l));
}

std::string GraphBuilder::concat(std::string id, std::vector<std::string> inputs) {
  Layer l;
  l.id = std::move(id);
  l.op = Op::concat;
  l.inputs = std::move(inputs);
  return push(std::move(l));
}

std::string GraphBuilder::linear(std::string id, const std::string& from, std::int64_t out) {
  Layer l = reading(std::move(id), Op::linear, from);
  l.out_channels = out;
  return push(std::move(l));
}

std::string GraphBuilder::dropout(std::string id, const std::string& from, double p) {
  Layer l = reading(std::move(id), Op::dropout, from);
  l.p = p;
  return push(std::move(l));
}

std::string GraphBuilder::conv_unit(const ConvUnitIds& ids, const std::string& from, const Conv& c,
                                    Op act) {
  std::string x = conv(ids.conv, from, c);
  if (!ids.norm.empty()) x = unary(ids.norm, Op::batchnorm, x);
  if (!ids.act.empty()) x = unary(ids.act, act, x);
  return x;
}

std::string GraphBuilder::norm_act_conv(const ConvUnitIds& ids, const std::string& from,
                                        const Conv& c, Op act) {
  std::string x = from;
  if (!ids.norm.empty()) x = unary(ids.norm, Op::batchnorm, x);
  if (!ids.act.empty()) x = unary(ids.act, act, x);
  return conv(ids.conv, x, c);
}

std::string GraphBuilder::classifier(std::string id, const std::string& from) {
  std::string x = linear(std::move(id), from, arch_.classes());
  arch_.set_output(x);
  return x;
}

std::string GraphBuilder::pooled_head(const std::string& from, const HeadIds& ids,
                                      double dropout_p) {
  std::string x = unary(ids.pool, Op::global_avgpool, from);
  x = unary(ids.flatten, Op::flatten, x);
  if (dropout_p > 0) x = dropout(ids.dropout, x, dropout_p);
  return classifier(ids.classifier, x);
}

}  // namespace narrow
