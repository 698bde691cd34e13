#include "narrow/constraints.hpp"

#include <fmt/format.h>

#include "narrow/device.hpp"
#include "narrow/units.hpp"

namespace narrow {

const Constraint* Constraints::violated(const Metrics& m, const Architecture* arch,
                                        double* latency) const {
  if (latency) *latency = 0;
  for (const auto& c : bounds) {
    if (c.metric == "latency") {
      if (!arch || !device) continue;
      const auto t = device->predict(*arch, m);
      if (!t) throw Error(fmt::format("device '{}' gave no latency prediction", device->name()));
      if (latency) *latency = *t;
      if (*t > c.max) return &c;
      continue;
    }
    if (double(m.get(c.metric)) > c.max) return &c;
  }
  return nullptr;
}

std::string Constraints::describe(const Constraint& c, const Metrics& m, double latency,
                                  bool measured) {
  if (c.metric == "latency")
    return fmt::format("latency {} > {} ({})", seconds_text(latency), c.text,
                       measured ? "measured" : "predicted");
  return fmt::format("{} {} > {}", c.metric, m.get(c.metric), c.text);
}

const Constraint* Constraints::latency_bound() const {
  for (const auto& c : bounds)
    if (c.metric == "latency") return &c;
  return nullptr;
}

std::string Constraints::key() const {
  std::string out;
  for (const auto& c : bounds) out += fmt::format("{}<={};", c.metric, c.max);
  if (device && latency_bound()) out += "device=" + device->description().dump() + ";";
  return out;
}

}  // namespace narrow
