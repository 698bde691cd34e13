// The latency model's features: the layer kinds with their per-layer features, and the
// whole-network features, each a sum over the layers of the batch-norm-folded network.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "narrow/architecture.hpp"
#include "narrow/errors.hpp"
#include "narrow/latency_model.hpp"
#include "narrow/metrics.hpp"

namespace narrow {

namespace {

/// The kinds of layer the latency model tells apart, each with the features of one layer of
/// that kind. A kind gathers the layers LibTorch's CPU backend runs the same way, so that one
/// linear law of its features fits them all (docs/devices.md, "Layer kinds").
const std::vector<std::pair<std::string, std::vector<std::string>>>& kind_catalog() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> kinds{
      // 1×1 convolutions of stride 1: one matrix product of the weights and the input. The
      // product's innermost loop runs over the output positions, once per weight, in vectors
      // of 8 and a scalar tail: "vector_blocks" = weights × ⌈positions / 8⌉ and
      // "vector_tails" = weights × (positions mod 8).
      {"conv_pointwise",
       {"layers", "macs", "weights", "inputs", "outputs", "vector_blocks", "vector_tails"}},
      // Ungrouped convolutions on small inputs: im2col, then a matrix product.
      {"conv_gemm",
       {"layers", "macs", "weights", "im2col", "inputs", "outputs", "vector_blocks",
        "vector_tails"}},
      // Ungrouped convolutions that run as direct (oneDNN) kernels: work on the taps that
      // fall inside the input, and on channels rounded up to the kernels' blocks of 16 (input
      // channels only from 16 on: fewer stay unblocked). Blocked weights beyond 1 MiB are
      // reordered from memory rather than from the cache at every call.
      {"conv_direct",
       {"layers", "valid_macs", "blocked_macs", "blocked_weights", "blocked_inputs",
        "blocked_outputs", "inputs", "outputs", "blocked_weights_over_1mib"}},
      // Direct convolutions whose left or right padding is wider than the output: oneDNN
      // falls back to im2col and a matrix product over every tap, padding included. Rare.
      {"conv_narrow", {"layers", "macs"}},
      // Grouped and depthwise convolutions.
      {"conv_grouped",
       {"layers", "macs", "valid_macs", "blocked_inputs", "blocked_outputs", "inputs",
        "outputs"}},
      // A dot product per output; rows longer than 128 inputs cost more per MAC.
      {"linear", {"layers", "macs", "inputs", "outputs", "macs_over_128_inputs"}},
      // Pooling windows: every output reads its window (`window`: taps × outputs).
      {"maxpool", {"layers", "window", "valid_window", "inputs", "outputs"}},
      {"avgpool", {"layers", "window", "valid_window", "inputs", "outputs"}},
      {"global_avgpool", {"layers", "inputs", "outputs"}},
      {"batchnorm", {"layers", "inputs", "outputs"}},
      {"concat", {"layers", "inputs", "outputs"}},
      // relu, relu6, add, and the views (flatten, dropout at inference): a pass over memory
      // or a call's overhead.
      {"elementwise", {"layers", "inputs", "outputs"}},
  };
  return kinds;
}

const std::vector<std::string> global_features{
    "constant",        "ops",           "macs",           "params",
    "layers",          "activation_peak_bytes",           "conv_macs",
    "conv_gemm_macs",  "im2col_bytes",  "pointwise_macs", "grouped_macs",
    "linear_macs",     "conv_layers",   "conv_io_bytes",  "weight_bytes",
    "elementwise_bytes", "direct_conv_layers", "grouped_io_bytes"};

/// "KIND.FEATURE" for every layer kind's features, after `first`.
std::vector<std::string> with_kind_features(std::vector<std::string> first) {
  for (const auto& [kind, features] : kind_catalog())
    for (const auto& f : features) first.push_back(kind + "." + f);
  return first;
}

/// The global features, then every layer kind's.
const std::vector<std::string>& catalog() {
  static const std::vector<std::string> names = with_kind_features(global_features);
  return names;
}

/// Whether a convolution is one CPU inference runs as im2col + GEMM rather than as a direct
/// (oneDNN) convolution at batch size 1. LibTorch's CPU backend chooses this way for
/// ungrouped convolutions whose input holds at most 20480 values unless both kernel sides
/// exceed 3; the two ways differ several-fold in speed per MAC.
bool runs_as_gemm(const Layer& l, const Shape& in) {
  return l.groups == 1 && !(l.kernel[0] > 3 && l.kernel[1] > 3) && in.volume() <= 20480;
}

bool is_pointwise(const Layer& l) {
  return l.kernel[0] * l.kernel[1] == 1 && l.stride[0] == 1 && l.stride[1] == 1 &&
         l.padding[0] == 0 && l.padding[1] == 0;
}

/// Kernel taps inside the input along one axis, summed over the outputs.
double valid_taps(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                  std::int64_t padding) {
  double taps = 0;
  for (std::int64_t o = 0; o < out; ++o) {
    const std::int64_t first = o * stride - padding;
    taps += double(std::max<std::int64_t>(0, std::min(first + kernel, in) -
                                                 std::max<std::int64_t>(first, 0)));
  }
  return taps;
}

/// (output position, kernel tap) pairs of a windowed layer whose tap falls inside the input.
double valid_taps(const Layer& l, const Shape& in, const Shape& out) {
  return valid_taps(in.h, out.h, l.kernel[0], l.stride[0], l.padding[0]) *
         valid_taps(in.w, out.w, l.kernel[1], l.stride[1], l.padding[1]);
}

double blocked(double channels) {
  return std::ceil(channels / 16) * 16;
}

/// Input channels as oneDNN's direct kernels lay them out: in blocks of 16, except fewer than
/// 16, which stay as they are.
double blocked_input(double channels) {
  return channels < 16 ? channels : blocked(channels);
}

/// Whether oneDNN runs an ungrouped direct convolution as im2col + GEMM: when the padding on
/// the left or on the right of a row is wider than the output row.
bool pads_wider_than_output(const Layer& l, const Shape& in, const Shape& out) {
  const std::int64_t right =
      std::max<std::int64_t>(0, (out.w - 1) * l.stride[1] + l.kernel[1] - in.w - l.padding[1]);
  return l.padding[1] > out.w || right > out.w;
}

// 1 MiB of float32 weights.
constexpr double kWeightsInCache = 262144;

/// Layer i of a finalized architecture with its first input's shape, its output's shape and
/// the values all its inputs hold.
struct LayerIo {
  const Layer& layer;
  const Shape& in;
  const Shape& out;
  double inputs;
};

LayerIo layer_io(const Architecture& arch, std::size_t i) {
  double inputs = 0;
  for (int j : arch.input_indices(i))
    inputs += double(j < 0 ? arch.input().volume() : arch.shape(std::size_t(j)).volume());
  const int first = arch.input_indices(i).front();
  return {arch.layers()[i], first < 0 ? arch.input() : arch.shape(std::size_t(first)),
          arch.shape(i), inputs};
}

}  // namespace

std::vector<LayerFeatures> layer_latency_features(const Architecture& arch) {
  std::vector<LayerFeatures> rows(arch.layers().size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto [l, in, out, inputs] = layer_io(arch, i);
    const double outputs = double(out.volume());
    auto& r = rows[i];
    switch (l.op) {
      case Op::conv2d: {
        const double cin = double(in.c / l.groups), taps = double(l.kernel[0] * l.kernel[1]);
        const double macs = outputs * cin * taps, weights = double(out.c) * cin * taps;
        const double valid = valid_taps(l, in, out);
        const double positions = double(out.h * out.w);
        const double im2col = cin * taps * positions;
        const double vector_blocks = weights * std::ceil(positions / 8);
        const double vector_tails = weights * double((out.h * out.w) % 8);
        if (l.groups > 1) {
          r.kind = "conv_grouped";
          r.values = {1,
                      macs,
                      valid * cin * double(out.c),
                      blocked(double(in.c)) * double(in.h * in.w),
                      blocked(double(out.c)) * double(out.h * out.w),
                      inputs,
                      outputs};
        } else if (is_pointwise(l)) {
          r.kind = "conv_pointwise";
          r.values = {1, macs, weights, inputs, outputs, vector_blocks, vector_tails};
        } else if (runs_as_gemm(l, in)) {
          r.kind = "conv_gemm";
          r.values = {1, macs, weights, im2col, inputs, outputs, vector_blocks, vector_tails};
        } else if (pads_wider_than_output(l, in, out)) {
          r.kind = "conv_narrow";
          r.values = {1, macs};
        } else {
          const double bin = blocked_input(double(in.c)), bout = blocked(double(out.c));
          r.kind = "conv_direct";
          r.values = {1,
                      valid * cin * double(out.c),
                      valid * bin * bout,
                      bin * bout * taps,
                      bin * double(in.h * in.w),
                      bout * double(out.h * out.w),
                      inputs,
                      outputs,
                      std::max(0.0, bin * bout * taps - kWeightsInCache)};
        }
        break;
      }
      case Op::linear:
        r.kind = "linear";
        r.values = {1, double(in.volume()) * double(l.out_channels), inputs, outputs,
                    double(l.out_channels) * std::max(0.0, double(in.volume()) - 128)};
        break;
      case Op::maxpool:
      case Op::avgpool: {
        const double valid = valid_taps(l, in, out);
        r.kind = l.op == Op::maxpool ? "maxpool" : "avgpool";
        r.values = {1, outputs * double(l.kernel[0] * l.kernel[1]), valid * double(out.c),
                    inputs, outputs};
        break;
      }
      case Op::global_avgpool:
        r.kind = "global_avgpool";
        r.values = {1, inputs, outputs};
        break;
      case Op::batchnorm:
        r.kind = "batchnorm";
        r.values = {1, inputs, outputs};
        break;
      case Op::concat:
        r.kind = "concat";
        r.values = {1, inputs, outputs};
        break;
      default:
        r.kind = "elementwise";
        r.values = {1, inputs, outputs};
        break;
    }
  }
  return rows;
}

const std::vector<std::pair<std::string, std::vector<std::string>>>& layer_kinds() {
  return kind_catalog();
}

namespace {

const std::vector<std::string>& kind_features(const std::string& kind) {
  for (const auto& [name, features] : kind_catalog())
    if (name == kind) return features;
  throw Error("internal: unknown layer kind " + kind);
}

/// Every feature of a folded, finalized architecture, by name.
std::map<std::string, double> all_features(const Architecture& arch) {
  constexpr double f32 = 4;
  std::map<std::string, double> f;
  for (const auto& name : catalog()) f[name] = 0;
  for (const auto& row : layer_latency_features(arch)) {
    const auto& names = kind_features(row.kind);
    for (std::size_t k = 0; k < names.size(); ++k) f[row.kind + "." + names[k]] += row.values[k];
  }
  const Metrics m = analyse(arch);
  f["constant"] = 1;
  f["macs"] = double(m.macs);
  f["params"] = double(m.params);
  f["layers"] = double(m.layers);
  f["activation_peak_bytes"] = double(m.activation_peak_bytes);
  f["weight_bytes"] = double(m.weight_bytes);
  for (std::size_t i = 0; i < arch.layers().size(); ++i) {
    const auto [l, in, out, in_volume] = layer_io(arch, i);
    switch (l.op) {
      case Op::conv2d: {
        const double per_out = double(in.c / l.groups) * double(l.kernel[0] * l.kernel[1]);
        const double macs = double(out.volume()) * per_out;
        if (l.groups > 1) {
          f["grouped_macs"] += macs;
          f["grouped_io_bytes"] += f32 * (in_volume + double(out.volume()));
          f["direct_conv_layers"] += 1;
        } else if (is_pointwise(l)) {
          f["pointwise_macs"] += macs;  // a plain matrix product, no im2col
        } else if (runs_as_gemm(l, in)) {
          f["conv_gemm_macs"] += macs;
          // The unfolded input: every output position's receptive field, written and read.
          f["im2col_bytes"] += f32 * per_out * double(out.h * out.w);
        } else {
          f["conv_macs"] += macs;
          f["direct_conv_layers"] += 1;  // each call sets up a oneDNN primitive
        }
        f["conv_layers"] += 1;
        f["conv_io_bytes"] += f32 * (in_volume + double(out.volume()));
        f["ops"] += 1;
        break;
      }
      case Op::linear:
        f["linear_macs"] += double(in.volume()) * double(l.out_channels);
        f["ops"] += 1;
        break;
      case Op::flatten:
      case Op::dropout:
        break;  // views and identities at inference: no work
      default:
        f["elementwise_bytes"] += f32 * (in_volume + double(out.volume()));
        f["ops"] += 1;
        break;
    }
  }
  return f;
}

}  // namespace

const std::vector<std::string>& latency_feature_names() {
  return catalog();
}

const std::vector<std::string>& layered_latency_features() {
  static const std::vector<std::string> names = with_kind_features({"constant"});
  return names;
}

const std::vector<std::string>& default_latency_features() {
  static const std::vector<std::string> names{
      "constant",     "ops",         "conv_macs",     "conv_gemm_macs",   "im2col_bytes",
      "pointwise_macs", "grouped_macs", "linear_macs", "conv_io_bytes", "elementwise_bytes"};
  return names;
}

void check_latency_features(const std::vector<std::string>& names) {
  if (names.empty()) throw InputError("a latency model needs at least one feature");
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (std::find(catalog().begin(), catalog().end(), names[i]) == catalog().end()) {
      std::vector<std::string> sorted = global_features;
      for (const auto& [kind, features] : kind_catalog())
        sorted.push_back(fmt::format("{}.{{{}}}", kind, fmt::join(features, ",")));
      std::sort(sorted.begin(), sorted.end());
      throw InputError(fmt::format("unknown latency feature '{}' (valid: {})", names[i],
                                   fmt::join(sorted, ", ")));
    }
    if (std::find(names.begin(), names.begin() + std::ptrdiff_t(i), names[i]) !=
        names.begin() + std::ptrdiff_t(i))
      throw InputError(fmt::format("latency feature '{}' is named twice", names[i]));
  }
}

std::vector<double> latency_features(const Architecture& arch,
                                     const std::vector<std::string>& names) {
  check_latency_features(names);
  const auto f = all_features(fold_batchnorm(arch));
  std::vector<double> out;
  out.reserve(names.size());
  for (const auto& n : names) out.push_back(f.at(n));
  return out;
}

}  // namespace narrow
