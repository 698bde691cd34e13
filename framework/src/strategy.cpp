#include "narrow/strategy.hpp"

#include <fmt/format.h>

namespace narrow {

StageContext::~StageContext() = default;
Strategy::~Strategy() = default;

const Constraint* Constraints::violated(const Metrics& m) const {
  for (const auto& c : bounds)
    if (double(m.get(c.metric)) > c.max) return &c;
  return nullptr;
}

std::string Constraints::describe(const Constraint& c, const Metrics& m) {
  return fmt::format("{} {} > {}", c.metric, m.get(c.metric), c.text);
}

}  // namespace narrow
