#include "narrow/device.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

#include <fmt/format.h>

#include "narrow/errors.hpp"
#include "narrow/registry.hpp"

namespace narrow {

using nlohmann::json;

// ------------------------------------------------------------------ measurements

json LatencyOptions::to_json() const {
  return json{{"runs", runs},
              {"warmup", warmup},
              {"threads", threads},
              {"max_cv", max_cv},
              {"max_repeats", max_repeats},
              {"min_run_seconds", min_run_seconds},
              {"clock", clock},
              {"layers", layers}};
}

LatencyOptions LatencyOptions::from_json(const json& j) {
  LatencyOptions o;
  o.runs = j.at("runs").get<int>();
  o.warmup = j.at("warmup").get<int>();
  o.threads = j.at("threads").get<int>();
  o.max_cv = j.at("max_cv").get<double>();
  o.max_repeats = j.at("max_repeats").get<int>();
  o.min_run_seconds = j.at("min_run_seconds").get<double>();
  o.clock = j.value("clock", std::string("wall"));
  o.layers = j.value("layers", false);
  return o;
}

json LatencyMeasurement::to_json() const {
  json j{{"mean", mean},
              {"median", median},
              {"stddev", stddev},
              {"cv", cv},
              {"runs", runs},
              {"inferences_per_run", inferences_per_run},
              {"repeats", repeats},
              {"noisy", noisy},
              {"threads", threads},
              {"clock", clock},
              {"cpu", cpu},
              {"times", times}};
  if (!layer_seconds.empty()) j["layer_seconds"] = layer_seconds;
  return j;
}

LatencyMeasurement LatencyMeasurement::from_json(const json& j) {
  LatencyMeasurement m;
  m.mean = j.at("mean").get<double>();
  m.median = j.at("median").get<double>();
  m.stddev = j.at("stddev").get<double>();
  m.cv = j.at("cv").get<double>();
  m.runs = j.at("runs").get<int>();
  m.inferences_per_run = j.at("inferences_per_run").get<int>();
  m.repeats = j.at("repeats").get<int>();
  m.noisy = j.at("noisy").get<bool>();
  m.threads = j.at("threads").get<int>();
  m.clock = j.value("clock", std::string("wall"));
  m.cpu = j.at("cpu").get<std::string>();
  m.times = j.at("times").get<std::vector<double>>();
  if (j.contains("layer_seconds")) m.layer_seconds = j.at("layer_seconds").get<std::vector<double>>();
  return m;
}

// ------------------------------------------------------------------ Device

Device::~Device() = default;

bool Device::measures() const {
  return false;
}

LatencyOptions Device::latency_options() const {
  return {};
}

LatencyMeasurement Device::measure(const Architecture&, const LatencyOptions&) {
  throw Error(fmt::format("device '{}' does not measure latency; it only predicts it", name()));
}

bool Device::predicts() const {
  return false;
}

std::optional<double> Device::predict(const Architecture&, const Metrics&) const {
  return std::nullopt;
}

std::unique_ptr<Device> create_device(const Registry& registry, const std::string& name,
                                      const std::map<std::string, std::string>& params,
                                      const SourceLocation& where) {
  return registry.make<Device>(name, params, where);
}

std::map<std::string, std::string> parameter_texts(const Parameters& p) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : p.values()) out[name] = to_string(value);
  return out;
}

// ------------------------------------------------------------------ folding, host facts

std::vector<int> batchnorm_folds(const Architecture& arch) {
  const auto& layers = arch.layers();
  const std::size_t n = layers.size();
  std::vector<int> readers(n, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (int j : arch.input_indices(i))
      if (j >= 0) ++readers[std::size_t(j)];
  std::vector<int> folds(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    if (layers[i].op != Op::batchnorm || arch.input_indices(i).size() != 1) continue;
    const int j = arch.input_indices(i).front();
    if (j >= 0 && layers[std::size_t(j)].op == Op::conv2d && readers[std::size_t(j)] == 1 &&
        std::size_t(j) != arch.output_index())
      folds[i] = j;
  }
  return folds;
}

Architecture fold_batchnorm(const Architecture& source) {
  Architecture arch = source;
  if (!arch.finalized()) arch.finalize();
  const auto& layers = arch.layers();
  const std::size_t n = layers.size();
  // Which batch norms disappear, and the convolution that takes each one's place.
  const std::vector<int> folds = batchnorm_folds(arch);
  std::map<std::string, std::string> replaced;
  std::vector<char> gains_bias(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (folds[i] < 0) continue;
    replaced[layers[i].id] = layers[std::size_t(folds[i])].id;
    gains_bias[std::size_t(folds[i])] = 1;
  }
  if (replaced.empty()) return arch;
  Architecture folded(arch.input(), arch.classes());
  folded.reserve(n - replaced.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (replaced.count(layers[i].id)) continue;
    Layer l = layers[i];
    if (gains_bias[i]) l.bias = true;
    for (auto& in : l.inputs)
      if (auto it = replaced.find(in); it != replaced.end()) in = it->second;
    folded.add(std::move(l));
  }
  const auto out = replaced.find(arch.output());
  folded.set_output(out == replaced.end() ? arch.output() : out->second);
  folded.finalize();
  return folded;
}

std::string host_cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("model name")) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto b = line.find_first_not_of(" \t", colon + 1);
    if (b != std::string::npos) return line.substr(b);
  }
  return "unknown";
}

std::int64_t host_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long size = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? std::int64_t(pages) * std::int64_t(size) : 0;
}

// ------------------------------------------------------------------ features

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

// ------------------------------------------------------------------ statistics

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

namespace {

double r_squared(const std::vector<double>& p, const std::vector<double>& y) {
  const double mean = std::accumulate(y.begin(), y.end(), 0.0) / double(y.size());
  double res = 0, tot = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    res += (y[i] - p[i]) * (y[i] - p[i]);
    tot += (y[i] - mean) * (y[i] - mean);
  }
  return tot > 0 ? 1 - res / tot : (res == 0 ? 1 : 0);
}

}  // namespace

FitStatistics FitStatistics::of(const std::vector<double>& predicted,
                                const std::vector<double>& measured) {
  if (predicted.size() != measured.size())
    throw Error("internal: predictions and measurements differ in number");
  FitStatistics s;
  s.count = std::int64_t(measured.size());
  if (measured.empty()) return s;
  std::vector<double> pct, lp, ly;
  std::int64_t within = 0;
  for (std::size_t i = 0; i < measured.size(); ++i) {
    const double e = 100 * std::abs(predicted[i] - measured[i]) / measured[i];
    pct.push_back(e);
    within += e <= 10;
    // A non-positive prediction is as far off as the smallest positive value in log space.
    lp.push_back(std::log(std::max(predicted[i], 1e-12)));
    ly.push_back(std::log(measured[i]));
  }
  s.r2 = r_squared(predicted, measured);
  s.r2_log = r_squared(lp, ly);
  s.median_abs_pct_error = median_of(pct);
  s.mean_abs_pct_error = std::accumulate(pct.begin(), pct.end(), 0.0) / double(pct.size());
  s.max_abs_pct_error = *std::max_element(pct.begin(), pct.end());
  s.within_10pct = double(within) / double(measured.size());
  return s;
}

json FitStatistics::to_json() const {
  return json{{"count", count},
              {"r2", r2},
              {"r2_log", r2_log},
              {"median_abs_pct_error", median_abs_pct_error},
              {"mean_abs_pct_error", mean_abs_pct_error},
              {"max_abs_pct_error", max_abs_pct_error},
              {"within_10pct", within_10pct}};
}

FitStatistics FitStatistics::from_json(const json& j) {
  FitStatistics s;
  s.count = j.at("count").get<std::int64_t>();
  s.r2 = j.at("r2").get<double>();
  s.r2_log = j.at("r2_log").get<double>();
  s.median_abs_pct_error = j.at("median_abs_pct_error").get<double>();
  s.mean_abs_pct_error = j.at("mean_abs_pct_error").get<double>();
  s.max_abs_pct_error = j.at("max_abs_pct_error").get<double>();
  s.within_10pct = j.at("within_10pct").get<double>();
  return s;
}

// ------------------------------------------------------------------ least squares

namespace {

/// min ||A x - b|| over the columns `cols` of A (row-major, rows × stride) by Householder QR.
/// Columns whose pivot vanishes (dependent on earlier ones) get 0.
std::vector<double> least_squares(const std::vector<double>& a, std::size_t rows,
                                  std::size_t stride, const std::vector<std::size_t>& cols,
                                  const std::vector<double>& b) {
  const std::size_t k = cols.size();
  std::vector<double> r(rows * k), q = b;
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t c = 0; c < k; ++c) r[i * k + c] = a[i * stride + cols[c]];
  std::vector<double> norms(k, 0);
  for (std::size_t c = 0; c < k; ++c)
    for (std::size_t i = 0; i < rows; ++i) norms[c] += r[i * k + c] * r[i * k + c];
  for (std::size_t c = 0; c < k && c < rows; ++c) {
    double alpha = 0;
    for (std::size_t i = c; i < rows; ++i) alpha += r[i * k + c] * r[i * k + c];
    alpha = std::sqrt(alpha);
    if (alpha == 0) continue;
    if (r[c * k + c] > 0) alpha = -alpha;
    // v = x - alpha e1, kept in place below the diagonal.
    std::vector<double> v(rows - c);
    for (std::size_t i = c; i < rows; ++i) v[i - c] = r[i * k + c];
    v[0] -= alpha;
    double vv = 0;
    for (double x : v) vv += x * x;
    if (vv == 0) continue;
    for (std::size_t cc = c; cc < k; ++cc) {
      double d = 0;
      for (std::size_t i = c; i < rows; ++i) d += v[i - c] * r[i * k + cc];
      d = 2 * d / vv;
      for (std::size_t i = c; i < rows; ++i) r[i * k + cc] -= d * v[i - c];
    }
    double d = 0;
    for (std::size_t i = c; i < rows; ++i) d += v[i - c] * q[i];
    d = 2 * d / vv;
    for (std::size_t i = c; i < rows; ++i) q[i] -= d * v[i - c];
  }
  std::vector<double> x(k, 0);
  for (std::size_t c = std::min(k, rows); c-- > 0;) {
    const double pivot = r[c * k + c];
    if (std::abs(pivot) <= 1e-12 * std::sqrt(std::max(norms[c], 1e-300))) continue;
    double s = q[c];
    for (std::size_t cc = c + 1; cc < k; ++cc) s -= r[c * k + cc] * x[cc];
    x[c] = s / pivot;
  }
  return x;
}

}  // namespace

std::vector<double> nonnegative_least_squares(const std::vector<double>& a, std::size_t rows,
                                              std::size_t cols, const std::vector<double>& b) {
  if (a.size() != rows * cols || b.size() != rows)
    throw Error("internal: least squares with mismatched sizes");
  std::vector<double> x(cols, 0);
  std::vector<char> passive(cols, 0);
  auto gradient = [&] {
    std::vector<double> res = b, w(cols, 0);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t c = 0; c < cols; ++c) res[i] -= a[i * cols + c] * x[c];
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t c = 0; c < cols; ++c) w[c] += a[i * cols + c] * res[i];
    return w;
  };
  double scale = 0;
  for (double v : a) scale = std::max(scale, std::abs(v));
  for (double v : b) scale = std::max(scale, std::abs(v));
  const double tol = 1e-10 * std::max(1.0, scale * scale) * double(rows);
  for (std::size_t outer = 0; outer < 3 * cols + 3; ++outer) {
    const auto w = gradient();
    std::size_t best = cols;
    for (std::size_t c = 0; c < cols; ++c)
      if (!passive[c] && w[c] > tol && (best == cols || w[c] > w[best])) best = c;
    if (best == cols) break;
    passive[best] = 1;
    for (std::size_t inner = 0; inner < 3 * cols + 3; ++inner) {
      std::vector<std::size_t> set;
      for (std::size_t c = 0; c < cols; ++c)
        if (passive[c]) set.push_back(c);
      const auto s = least_squares(a, rows, cols, set, b);
      bool feasible = true;
      for (double v : s) feasible = feasible && v > 0;
      if (feasible) {
        std::fill(x.begin(), x.end(), 0.0);
        for (std::size_t k = 0; k < set.size(); ++k) x[set[k]] = s[k];
        break;
      }
      // Step from x toward s as far as stays feasible; the coefficients that reach zero
      // leave the passive set.
      double alpha = 1;
      for (std::size_t k = 0; k < set.size(); ++k)
        if (s[k] <= 0) alpha = std::min(alpha, x[set[k]] / (x[set[k]] - s[k]));
      for (std::size_t k = 0; k < set.size(); ++k) x[set[k]] += alpha * (s[k] - x[set[k]]);
      for (std::size_t k = 0; k < set.size(); ++k)
        if (x[set[k]] <= 1e-15) {
          x[set[k]] = 0;
          passive[set[k]] = 0;
        }
    }
  }
  return x;
}

namespace {

/// min Σ_i (w_i (x_i · c - y_i))² over c >= 0, with every column scaled to a largest value of
/// 1 first (conditioning); columns that are zero throughout get coefficient 0.
std::vector<double> weighted_nnls(const std::vector<std::vector<double>>& x,
                                  const std::vector<double>& y, const std::vector<double>& w,
                                  std::size_t cols) {
  const std::size_t rows = y.size();
  std::vector<double> a(rows * cols), b(rows), scale(cols, 0);
  for (std::size_t i = 0; i < rows; ++i) {
    b[i] = w[i] * y[i];
    for (std::size_t c = 0; c < cols; ++c) {
      a[i * cols + c] = w[i] * x[i][c];
      scale[c] = std::max(scale[c], std::abs(a[i * cols + c]));
    }
  }
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t c = 0; c < cols; ++c)
      if (scale[c] > 0) a[i * cols + c] /= scale[c];
  auto z = nonnegative_least_squares(a, rows, cols, b);
  for (std::size_t c = 0; c < cols; ++c) z[c] = scale[c] > 0 ? z[c] / scale[c] : 0;
  return z;
}

void check_latency(double y, std::size_t i) {
  if (!(y > 0) || !std::isfinite(y))
    throw InputError(fmt::format("measured latency {} of sample {} is not positive", y, i));
}

}  // namespace

LatencyModel LatencyModel::fit(const std::vector<std::string>& features,
                               const std::vector<std::vector<double>>& x,
                               const std::vector<double>& y) {
  check_latency_features(features);
  const std::size_t rows = y.size(), cols = features.size();
  if (x.size() != rows) throw Error("internal: feature rows and latencies differ in number");
  if (rows < cols)
    throw InputError(fmt::format("fitting {} features needs at least {} measurements, not {}",
                                 cols, cols, rows));
  std::vector<double> w(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    check_latency(y[i], i);
    if (x[i].size() != cols) throw Error("internal: a feature row has the wrong length");
    for (std::size_t c = 0; c < cols; ++c)
      if (!std::isfinite(x[i][c]))
        throw InputError(fmt::format("feature '{}' of sample {} is not finite", features[c], i));
    w[i] = 1 / y[i];  // relative error
  }
  LatencyModel m;
  m.features = features;
  m.coefficients = weighted_nnls(x, y, w, cols);
  return m;
}

LatencyModel LatencyModel::fit_layers(const std::vector<std::vector<LayerFeatures>>& layers,
                                      const std::vector<std::vector<double>>& layer_seconds,
                                      const std::vector<double>& y,
                                      std::vector<std::string>* unseen) {
  const std::size_t n = y.size();
  if (layers.size() != n || layer_seconds.size() != n)
    throw Error("internal: layer features, layer times and latencies differ in number");
  const auto& kinds = kind_catalog();
  // Stage 1: each kind's features against its layers' times.
  struct Rows {
    std::vector<std::vector<double>> x;
    std::vector<double> t, w;
  };
  std::map<std::string, Rows> by_kind;
  for (std::size_t i = 0; i < n; ++i) {
    check_latency(y[i], i);
    if (layers[i].size() != layer_seconds[i].size())
      throw InputError(fmt::format("sample {} has {} layers but {} layer times", i,
                                   layers[i].size(), layer_seconds[i].size()));
    for (std::size_t l = 0; l < layers[i].size(); ++l) {
      const double t = layer_seconds[i][l];
      if (!(t >= 0) || !std::isfinite(t))
        throw InputError(fmt::format("layer {} of sample {} has time {}", l, i, t));
      auto& r = by_kind[layers[i][l].kind];
      r.x.push_back(layers[i][l].values);
      r.t.push_back(t);
      r.w.push_back(1 / y[i]);
    }
  }
  // Each fitted kind's law and its column in stage 2.
  struct Law {
    std::size_t column = 0;
    std::vector<double> c;
  };
  std::map<std::string, Law> stage1;
  for (const auto& [kind, features] : kinds) {
    auto it = by_kind.find(kind);
    if (it == by_kind.end()) {
      if (unseen) unseen->push_back(kind);
      continue;
    }
    Rows& r = it->second;
    std::vector<double> c;
    if (r.t.size() >= features.size()) {
      c = weighted_nnls(r.x, r.t, r.w, features.size());
    } else {
      for (auto& row : r.x) row.resize(1);  // "layers": the mean time per layer
      c = weighted_nnls(r.x, r.t, r.w, 1);
      c.resize(features.size(), 0.0);
    }
    const std::size_t column = stage1.size();
    stage1.emplace(kind, Law{column, std::move(c)});
  }
  // Stage 2: the whole networks' latencies from each kind's predicted time and a constant.
  const std::size_t cols = stage1.size() + 1;
  if (n < cols)
    throw InputError(fmt::format("a layered fit of {} layer kinds needs at least {} measured "
                                 "networks, not {}",
                                 stage1.size(), cols, n));
  std::vector<std::vector<double>> x(n, std::vector<double>(cols, 0.0));
  std::vector<double> w(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (const auto& layer : layers[i]) {
      const Law& law = stage1.at(layer.kind);
      for (std::size_t f = 0; f < law.c.size(); ++f)
        x[i][law.column] += law.c[f] * layer.values[f];
    }
    x[i][cols - 1] = 1;
    w[i] = 1 / y[i];
  }
  const auto scale = weighted_nnls(x, y, w, cols);
  LatencyModel m;
  m.features = layered_latency_features();
  m.coefficients.assign(m.features.size(), 0.0);
  m.coefficients[0] = scale[cols - 1];
  std::size_t at = 1;
  for (const auto& [kind, features] : kinds) {
    const auto it = stage1.find(kind);
    for (std::size_t f = 0; f < features.size(); ++f, ++at)
      if (it != stage1.end()) m.coefficients[at] = scale[it->second.column] * it->second.c[f];
  }
  return m;
}

double LatencyModel::predict(const std::vector<double>& v) const {
  if (v.size() != coefficients.size()) throw Error("internal: feature count mismatch");
  double s = 0;
  for (std::size_t c = 0; c < v.size(); ++c) s += coefficients[c] * v[c];
  return s;
}

double LatencyModel::predict(const Architecture& arch) const {
  return predict(latency_features(arch, features));
}

// ------------------------------------------------------------------ calibration file

std::string utc_timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

json Calibration::to_json() const {
  json coefficients = json::object();
  for (std::size_t c = 0; c < model.features.size(); ++c)
    coefficients[model.features[c]] = model.coefficients[c];
  return json{{"format", "narrow-calibration"},
              {"version", 1},
              {"date", date},
              {"device", device},
              {"measurement", options.to_json()},
              {"features", model.features},
              {"coefficients", model.coefficients},
              {"fit", fit},
              {"samples", samples},
              {"training", training.to_json()},
              {"held_out", held_out.to_json()},
              {"noise_cv_median", noise_cv_median},
              {"spaces", spaces},
              {"seed", std::to_string(seed)}};
}

namespace {

/// Field `key` of a calibration object, of the JSON type `what` names; InputError otherwise.
const json& field(const json& j, const char* key, json::value_t type, const char* what,
                  const std::string& source, const std::string& path = "") {
  const std::string where = path.empty() ? key : path + "." + key;
  if (!j.contains(key))
    throw InputError(fmt::format("calibration: '{}' is missing", where), SourceLocation{source});
  const json& v = j.at(key);
  const bool ok = type == json::value_t::number_float ? v.is_number() : v.type() == type ||
                  (type == json::value_t::number_unsigned && v.is_number_integer() &&
                   v.get<std::int64_t>() >= 0);
  if (!ok)
    throw InputError(fmt::format("calibration: '{}' must be {}, not {}", where, what, v.dump()),
                     SourceLocation{source});
  return v;
}

FitStatistics statistics_from(const json& j, const char* key, const std::string& source) {
  const json& s = field(j, key, json::value_t::object, "an object", source);
  FitStatistics f;
  f.count = field(s, "count", json::value_t::number_unsigned, "a count", source, key)
                .get<std::int64_t>();
  auto number = [&](const char* name) {
    return field(s, name, json::value_t::number_float, "a number", source, key).get<double>();
  };
  f.r2 = number("r2");
  f.r2_log = number("r2_log");
  f.median_abs_pct_error = number("median_abs_pct_error");
  f.mean_abs_pct_error = number("mean_abs_pct_error");
  f.max_abs_pct_error = number("max_abs_pct_error");
  f.within_10pct = number("within_10pct");
  if (f.within_10pct < 0 || f.within_10pct > 1)
    throw InputError(fmt::format("calibration: '{}.within_10pct' {} is not a share in 0..1", key,
                                 f.within_10pct),
                     SourceLocation{source});
  return f;
}

}  // namespace

Calibration Calibration::from_json(const json& j, const std::string& source) {
  const SourceLocation at{source};
  if (!j.is_object()) throw InputError("calibration: the file must hold one JSON object", at);
  const auto& format = field(j, "format", json::value_t::string, "a string", source);
  if (format.get<std::string>() != "narrow-calibration")
    throw InputError(fmt::format("calibration: 'format' is '{}', not 'narrow-calibration'",
                                 format.get<std::string>()),
                     at);
  const auto version = field(j, "version", json::value_t::number_unsigned, "a version number",
                             source)
                           .get<std::int64_t>();
  if (version != 1)
    throw InputError(
        fmt::format("calibration: version {} is not supported (this narrow reads version 1)",
                    version),
        at);
  Calibration c;
  c.date = field(j, "date", json::value_t::string, "a string", source).get<std::string>();
  c.device = field(j, "device", json::value_t::object, "an object", source);
  if (!c.device.contains("name") || !c.device.at("name").is_string())
    throw InputError("calibration: 'device.name' is missing or not a string", at);
  const json& m = field(j, "measurement", json::value_t::object, "an object", source);
  try {
    c.options = LatencyOptions::from_json(m);
  } catch (const json::exception&) {
    throw InputError("calibration: 'measurement' needs runs, warmup, threads, max_cv, "
                     "max_repeats and min_run_seconds as numbers",
                     at);
  }
  const json& features = field(j, "features", json::value_t::array, "an array", source);
  for (const auto& f : features) {
    if (!f.is_string())
      throw InputError(fmt::format("calibration: 'features' holds {}, not a feature name",
                                   f.dump()),
                       at);
    c.model.features.push_back(f.get<std::string>());
  }
  try {
    check_latency_features(c.model.features);
  } catch (const InputError& e) {
    throw InputError("calibration: " + e.message(), at);
  }
  const json& coefficients =
      field(j, "coefficients", json::value_t::array, "an array", source);
  if (coefficients.size() != features.size())
    throw InputError(fmt::format("calibration: {} coefficients for {} features",
                                 coefficients.size(), features.size()),
                     at);
  for (std::size_t k = 0; k < coefficients.size(); ++k) {
    const auto& v = coefficients[k];
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
      throw InputError(fmt::format("calibration: coefficient {} ('{}') is {}, not a finite "
                                   "number >= 0",
                                   k, c.model.features[k], v.dump()),
                       at);
    c.model.coefficients.push_back(v.get<double>());
  }
  // "fit" is "layers" or "totals"; files written before layered fits described the method.
  if (j.contains("fit") && j["fit"].is_string() && j["fit"].get<std::string>() == "layers")
    c.fit = "layers";
  c.samples = field(j, "samples", json::value_t::number_unsigned, "a count", source)
                  .get<std::int64_t>();
  c.training = statistics_from(j, "training", source);
  c.held_out = statistics_from(j, "held_out", source);
  c.noise_cv_median =
      field(j, "noise_cv_median", json::value_t::number_float, "a number", source).get<double>();
  for (const auto& s : field(j, "spaces", json::value_t::array, "an array", source)) {
    if (!s.is_string())
      throw InputError(fmt::format("calibration: 'spaces' holds {}, not a name", s.dump()), at);
    c.spaces.push_back(s.get<std::string>());
  }
  const std::string seed =
      field(j, "seed", json::value_t::string, "a string of digits", source).get<std::string>();
  try {
    std::size_t used = 0;
    c.seed = std::stoull(seed, &used);
    if (used != seed.size()) throw std::invalid_argument(seed);
  } catch (const std::exception&) {
    throw InputError(fmt::format("calibration: 'seed' '{}' is not a number", seed), at);
  }
  return c;
}

void Calibration::save(const std::string& path) const {
  // Written next to its final name and renamed: an interrupted write leaves no broken file.
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial);
    if (!out) throw InputError(fmt::format("cannot write calibration file '{}'", path));
    out << to_json().dump(2) << "\n";
    if (!out) throw Error(fmt::format("writing calibration file '{}' failed", path));
  }
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  if (ec)
    throw Error(fmt::format("cannot rename '{}' to '{}': {}", partial, path, ec.message()));
}

Calibration Calibration::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("cannot read calibration file '{}'", path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    // Where the parser stopped, as a line and column of the file.
    SourceLocation at{path, 1, 1};
    for (std::size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++at.line;
        at.column = 1;
      } else {
        ++at.column;
      }
    }
    std::string what = e.what();
    if (const auto p = what.find("parse error"); p != std::string::npos) what = what.substr(p);
    throw InputError("calibration: not valid JSON: " + what, at);
  }
  return from_json(j, path);
}

}  // namespace narrow
