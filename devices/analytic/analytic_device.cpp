#include "analytic_device.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "narrow/architecture.hpp"
#include "narrow/errors.hpp"
#include "narrow/units.hpp"

namespace narrow::devices {

namespace {

// The presets, in the same form as a user's description file, read by the same parser.
// Raspberry Pi 3 Model B+: Scheidegger et al. 3.3 (5.6 GFLOPS peak as the paper states);
// LPDDR2 bandwidth as STREAM measures it on the board, about 2 GB/s.
constexpr const char* raspberry_pi_3b_plus = R"(name: raspberry_pi_3b_plus
summary: Raspberry Pi 3 Model B+, Broadcom BCM2837B0, 4x Cortex-A53 at 1.4 GHz, 1 GB LPDDR2
cores: 4
frequency_mhz: 1400
ram: 1GiB
flash: 0
peak_gflops: 5.6
bandwidth_gb_per_s: 2.0
layer_overhead: 30us
bits: 32
)";
// STM32F746: Cortex-M7 at 216 MHz with a single-precision FPU (one fused multiply-add per
// cycle: 0.432 GFLOPS), 320 KB SRAM, 1 MB flash; one 32-bit load per cycle from SRAM.
constexpr const char* stm32f746 = R"(name: stm32f746
summary: STM32F746, Cortex-M7 at 216 MHz with single-precision FPU, 320 KB SRAM, 1 MB flash
cores: 1
frequency_mhz: 216
ram: 320KiB
flash: 1MiB
peak_gflops: 0.432
bandwidth_gb_per_s: 0.864
layer_overhead: 2us
bits: 32
)";

const std::map<std::string, const char*> presets{{"raspberry_pi_3b_plus", raspberry_pi_3b_plus},
                                                 {"stm32f746", stm32f746}};

const std::vector<std::string> keys{"name",           "summary",           "cores",
                                    "frequency_mhz",  "ram",               "flash",
                                    "peak_gflops",    "bandwidth_gb_per_s", "layer_overhead",
                                    "bits"};

[[noreturn]] void fail(const std::string& source, const YAML::Mark& mark, const std::string& what) {
  if (mark.is_null()) throw InputError(what, SourceLocation{source});
  throw InputError(what, SourceLocation{source, mark.line + 1, mark.column + 1});
}

std::string scalar(const YAML::Node& n, const std::string& key, const std::string& source) {
  if (!n.IsScalar()) fail(source, n.Mark(), fmt::format("'{}' must be a single value", key));
  return n.Scalar();
}

double number(const YAML::Node& n, const std::string& key, const std::string& source,
              double lo, double hi, const char* allowed) {
  const std::string text = scalar(n, key, source);
  Quantity q;
  std::string error;
  if (!parse_quantity(text, q, error) || !q.plain)
    fail(source, n.Mark(), fmt::format("'{}' must be a number {}, not '{}'", key, allowed, text));
  if (!(q.value >= lo && q.value <= hi))
    fail(source, n.Mark(), fmt::format("'{}' must be a number {}, not {}", key, allowed, text));
  return q.value;
}

/// A quantity of `dimension` (a plain number is taken in the base unit).
double quantity(const YAML::Node& n, const std::string& key, const std::string& source,
                Dimension dimension, const char* example) {
  const std::string text = scalar(n, key, source);
  Quantity q;
  std::string error;
  if (!parse_quantity(text, q, error))
    fail(source, n.Mark(), fmt::format("'{}' '{}': {} (e.g. {})", key, text, error, example));
  if (!q.plain && q.dimension != dimension)
    fail(source, n.Mark(), fmt::format("'{}' '{}' is not in {} (e.g. {})", key, text,
                                       dimension_name(dimension), example));
  if (q.value < 0) fail(source, n.Mark(), fmt::format("'{}' must not be negative", key));
  return q.value;
}

}  // namespace

DeviceDescription DeviceDescription::parse(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail(source, e.mark, "not valid YAML: " + e.msg);
  }
  if (!root.IsMap())
    fail(source, root.Mark(),
         "a device description maps keys (name, peak_gflops, bandwidth_gb_per_s, ...) to values");
  DeviceDescription d;
  d.source = source;
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      std::vector<std::string> sorted = keys;
      std::sort(sorted.begin(), sorted.end());
      fail(source, kv.first.Mark(),
           fmt::format("unknown key '{}' (valid: {})", key, fmt::join(sorted, ", ")));
    }
  }
  auto need = [&](const char* key) {
    const YAML::Node n = root[key];
    if (!n) fail(source, root.Mark(), fmt::format("the description needs '{}'", key));
    return n;
  };
  d.name = scalar(need("name"), "name", source);
  if (d.name.empty()) fail(source, root["name"].Mark(), "'name' must not be empty");
  if (root["summary"]) d.summary = scalar(root["summary"], "summary", source);
  if (root["cores"]) d.cores = std::int64_t(number(root["cores"], "cores", source, 1, 1e6, "in 1..1000000"));
  if (root["frequency_mhz"])
    d.frequency_mhz = number(root["frequency_mhz"], "frequency_mhz", source, 0, 1e6, ">= 0");
  if (root["ram"])
    d.ram_bytes = std::int64_t(quantity(root["ram"], "ram", source, Dimension::bytes, "320KiB"));
  if (root["flash"])
    d.flash_bytes =
        std::int64_t(quantity(root["flash"], "flash", source, Dimension::bytes, "1MiB"));
  d.peak_flops =
      1e9 * number(need("peak_gflops"), "peak_gflops", source, 1e-9, 1e9, "> 0");
  d.bandwidth = 1e9 * number(need("bandwidth_gb_per_s"), "bandwidth_gb_per_s", source, 1e-9,
                             1e9, "> 0");
  if (root["layer_overhead"])
    d.layer_overhead = quantity(root["layer_overhead"], "layer_overhead", source,
                                Dimension::seconds, "20us");
  if (root["bits"]) d.bits = int(number(root["bits"], "bits", source, 1, 64, "in 1..64"));
  return d;
}

DeviceDescription DeviceDescription::load(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw InputError(
        fmt::format("device description '{}' is a folder; expected a YAML file", path));
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("cannot read device description '{}'", path));
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

DeviceDescription DeviceDescription::preset(const std::string& name) {
  const auto it = presets.find(name);
  if (it == presets.end()) {
    std::vector<std::string> names;
    for (const auto& [n, _] : presets) names.push_back(n);
    throw InputError(fmt::format("unknown preset '{}' (valid: {})", name, fmt::join(names, ", ")));
  }
  return parse(it->second, "preset " + name);
}

nlohmann::json DeviceDescription::to_json() const {
  return {{"name", name},
          {"summary", summary},
          {"cores", cores},
          {"frequency_mhz", frequency_mhz},
          {"ram_bytes", ram_bytes},
          {"flash_bytes", flash_bytes},
          {"peak_gflops", peak_flops / 1e9},
          {"bandwidth_gb_per_s", bandwidth / 1e9},
          {"layer_overhead_s", layer_overhead},
          {"bits", bits},
          {"source", source}};
}

double roofline_seconds(const Architecture& source, const DeviceDescription& d) {
  const Architecture arch = fold_batchnorm(source);
  const double bytes_per_value = d.bits / 8.0;
  double seconds = 0;
  const auto& layers = arch.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    const Shape& out = arch.shape(i);
    const auto& ins = arch.input_indices(i);
    const Shape& in = ins.front() < 0 ? arch.input() : arch.shape(std::size_t(ins.front()));
    double inputs = 0;
    for (int j : ins) inputs += double(j < 0 ? arch.input().volume() : arch.shape(std::size_t(j)).volume());
    const double o = double(out.volume());
    double flops = 0, weights = 0;
    switch (l.op) {
      case Op::conv2d: {
        const double per_out = double(in.c / l.groups) * double(l.kernel[0] * l.kernel[1]);
        flops = 2 * o * per_out + (l.bias ? o : 0);
        weights = double(l.out_channels) * per_out + (l.bias ? double(l.out_channels) : 0);
        break;
      }
      case Op::linear:
        flops = 2 * double(in.volume()) * double(l.out_channels) + (l.bias ? o : 0);
        weights = double(in.volume() * l.out_channels) + (l.bias ? double(l.out_channels) : 0);
        break;
      case Op::batchnorm:  // not folded: a scale and a shift per value
        flops = 2 * o;
        weights = 2 * double(in.c);
        break;
      case Op::relu:
      case Op::relu6:
        flops = o;
        break;
      case Op::maxpool:
      case Op::avgpool:
        flops = o * double(l.kernel[0] * l.kernel[1]);
        break;
      case Op::global_avgpool:
        flops = inputs;
        break;
      case Op::add:
        flops = o * double(ins.size() - 1);
        break;
      case Op::concat:
        break;  // copies only
      case Op::flatten:
      case Op::dropout:
        continue;  // a view and an identity at inference: not executed
    }
    const double bytes = (inputs + o + weights) * bytes_per_value;
    seconds += std::max(flops / d.peak_flops, bytes / d.bandwidth) + d.layer_overhead;
  }
  return seconds;
}

ParamSchema AnalyticDevice::schema() {
  std::vector<std::string> names;
  for (const auto& [n, _] : presets) names.push_back(n);
  return {
      ParamSpec::choice("preset", "raspberry_pi_3b_plus", names, "a built-in device description"),
      ParamSpec::string("description", "",
                        "a device description YAML file; replaces the preset when given"),
  };
}

AnalyticDevice::AnalyticDevice(const Parameters& p)
    : parameters_(p),
      device_(p.string("description").empty() ? DeviceDescription::preset(p.string("preset"))
                                              : DeviceDescription::load(p.string("description"))) {}

nlohmann::json AnalyticDevice::description() const {
  nlohmann::json j = device_.to_json();
  j["device"] = j["name"];
  j["name"] = name();
  j["parameters"] = parameter_texts(parameters_);
  return j;
}

std::optional<double> AnalyticDevice::predict(const Architecture& arch, const Metrics&) const {
  return roofline_seconds(arch, device_);
}

}  // namespace narrow::devices
