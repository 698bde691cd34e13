#include "narrow/space.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/random/uniform_int_distribution.hpp>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"

namespace narrow {

Component::~Component() = default;
SearchSpace::~SearchSpace() = default;

nlohmann::json Variable::to_json() const {
  nlohmann::json j{
      {"name", name}, {"type", kind == Kind::integer ? "integer" : "choice"}, {"help", help}};
  if (kind == Kind::integer) {
    j["min"] = min;
    j["max"] = max;
  } else {
    j["choices"] = choices;
  }
  return j;
}

std::string Variable::label(std::int64_t value) const {
  if (kind == Kind::choice && value >= 0 && std::size_t(value) < choices.size())
    return choices[std::size_t(value)];
  return std::to_string(value);
}

std::size_t add_variable(std::vector<Variable>& vars, std::string name, Variable::Kind kind,
                         std::int64_t min, std::int64_t max, std::vector<std::string> choices,
                         int depends_on, std::int64_t depends_min, std::string help) {
  vars.push_back(Variable{std::move(name), kind, min, max, std::move(choices), depends_on,
                          depends_min, std::move(help)});
  return vars.size() - 1;
}

void throw_unknown_reference(std::string_view space, const std::string& name,
                             const std::vector<std::string>& valid) {
  throw InputError(fmt::format("unknown reference '{}' of space '{}' (valid: {})", name, space,
                               fmt::join(valid, ", ")));
}

SamplingLaw SamplingLaw::uniform(const std::vector<Variable>& vars) {
  SamplingLaw law;
  law.name = "uniform";
  for (const auto& v : vars) {
    law.low.push_back(v.min);
    law.high.push_back(v.max);
  }
  return law;
}

bool SearchSpace::try_build(const Assignment& a, Architecture& out, std::string& reason) const {
  try {
    out = build(a);
    return true;
  } catch (const InvalidArchitecture& e) {
    reason = e.what();
    return false;
  }
}

bool SearchSpace::active(const Assignment& a, std::size_t i) const {
  const auto& v = variables()[i];
  return v.depends_on < 0 || a[std::size_t(v.depends_on)] >= v.depends_min;
}

Assignment SearchSpace::draw(const SamplingLaw& law, Rng& rng) const {
  const auto& vars = variables();
  Assignment a(vars.size());
  for (std::size_t i = 0; i < vars.size(); ++i) {
    const auto& v = vars[i];
    // Depth variables come before the variables they enable, so `active` sees their value.
    if (v.depends_on >= 0 && a[std::size_t(v.depends_on)] < v.depends_min) {
      a[i] = law.low[i];
      continue;
    }
    a[i] = law.low[i] == law.high[i] ? law.low[i]
                                     : boost::random::uniform_int_distribution<std::int64_t>(
                                           law.low[i], law.high[i])(rng);
  }
  return a;
}

void SearchSpace::check_law(const SamplingLaw& law) const {
  const auto& vars = variables();
  if (law.low.size() != vars.size() || law.high.size() != vars.size())
    throw InputError(fmt::format("law '{}' has {} ranges, the space has {} variables", law.name,
                                 law.low.size(), vars.size()));
  for (std::size_t i = 0; i < vars.size(); ++i) {
    const auto& v = vars[i];
    if (law.low[i] > law.high[i])
      throw InputError(fmt::format("law '{}': variable '{}' has low {} > high {}", law.name, v.name,
                                   v.label(law.low[i]), v.label(law.high[i])));
    if (law.low[i] < v.min || law.high[i] > v.max)
      throw InputError(
          fmt::format("law '{}': variable '{}' range [{}, {}] is outside its bounds "
                      "[{}, {}]",
                      law.name, v.name, v.label(law.low[i]), v.label(law.high[i]), v.label(v.min),
                      v.label(v.max)));
  }
}

void SearchSpace::check_assignment(const Assignment& a) const {
  const auto& vars = variables();
  if (a.size() != vars.size())
    throw InputError(
        fmt::format("assignment has {} values, the space has {} variables", a.size(), vars.size()));
  for (std::size_t i = 0; i < vars.size(); ++i)
    if (a[i] < vars[i].min || a[i] > vars[i].max)
      throw InputError(fmt::format("variable '{}' = {} is outside its bounds [{}, {}]",
                                   vars[i].name, a[i], vars[i].label(vars[i].min),
                                   vars[i].label(vars[i].max)));
}

nlohmann::json SearchSpace::assignment_json(const Assignment& a) const {
  const auto& vars = variables();
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (!active(a, i)) continue;
    if (vars[i].kind == Variable::Kind::choice) {
      j[vars[i].name] = vars[i].label(a[i]);
    } else {
      j[vars[i].name] = a[i];
    }
  }
  return j;
}

std::size_t SearchSpace::variable_index(const std::string& name) const {
  const auto& vars = variables();
  for (std::size_t i = 0; i < vars.size(); ++i)
    if (vars[i].name == name) return i;
  std::vector<std::string> names;
  for (const auto& v : vars) names.push_back(v.name);
  std::sort(names.begin(), names.end());
  throw InputError(fmt::format("unknown variable '{}' (valid: {})", name, fmt::join(names, ", ")));
}

}  // namespace narrow
