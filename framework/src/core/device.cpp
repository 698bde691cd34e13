#include "narrow/device.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

}  // namespace narrow
