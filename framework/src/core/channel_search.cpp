// Costs, targets and the penalty schedule of the channel search.
#include "narrow/channel_search.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "narrow/device.hpp"
#include "narrow/errors.hpp"
#include "narrow/format.hpp"
#include "narrow/metrics.hpp"

namespace narrow {

using json = nlohmann::json;

const std::vector<std::string>& channel_cost_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (std::string_view m : metric_names)
      if (m != "layers") n.emplace_back(m);
    n.emplace_back("deployed_bytes");
    n.emplace_back("latency");
    return n;
  }();
  return names;
}

double channel_cost(std::string_view name, const Architecture& arch, const NumberFormat* format,
                    const Device* device) {
  const int bits = format ? format->bits() : 32;
  if (name == "deployed_bytes") return static_cast<double>(deployed_bytes(arch, format));
  if (name == "latency") {
    if (!device || !device->predicts())
      throw InputError("the latency cost needs a device that predicts latency (analytic, or "
                       "calibrated with a calibration file)");
    const auto seconds = device->predict(arch, analyse(arch, bits));
    if (!seconds) throw InputError("device '" + device->name() + "' predicted no latency");
    return *seconds;
  }
  const auto& names = channel_cost_names();
  if (name == "layers" || std::find(names.begin(), names.end(), name) == names.end())
    throw InputError(fmt::format("unknown channel cost '{}' (valid: {})", name,
                                 fmt::join(names, ", ")));
  return static_cast<double>(analyse(arch, bits).get(name));
}

json ChannelSearch::to_json() const {
  json t = json::array();
  for (const auto& x : targets)
    t.push_back(json{{"metric", x.metric}, {"value", x.value}, {"lambda", x.lambda}});
  return json{{"targets", t},
              {"threshold", threshold},
              {"mask_learning_rate", mask_learning_rate},
              {"ramp", ramp},
              {"format", format},
              {"device", device}};
}

ChannelSearch ChannelSearch::from_json(const json& j) {
  ChannelSearch s;
  for (const auto& x : j.at("targets"))
    s.targets.push_back(CostTarget{x.at("metric").get<std::string>(), x.at("value").get<double>(),
                                   x.at("lambda").get<double>()});
  s.threshold = j.at("threshold").get<double>();
  s.mask_learning_rate = j.at("mask_learning_rate").get<double>();
  s.ramp = j.at("ramp").get<double>();
  s.format = j.at("format").get<std::string>();
  s.device = j.at("device").get<std::string>();
  return s;
}

double lambda_at(double lambda, double ramp, std::int64_t epoch, std::int64_t epochs) {
  const double start = lambda / 100.0;
  const double span = ramp * static_cast<double>(epochs);
  if (span <= 0 || static_cast<double>(epoch) >= span) return lambda;
  const double t = static_cast<double>(std::max<std::int64_t>(epoch, 0)) / span;
  return start + (lambda - start) * t;
}

double target_excess(double cost, double target) {
  return std::max(0.0, cost - target) / target;
}

}  // namespace narrow
