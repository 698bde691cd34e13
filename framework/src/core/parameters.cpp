#include "narrow/parameters.hpp"

#include <charconv>
#include <cmath>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace narrow {

std::string_view param_type_name(ParamType t) {
  switch (t) {
    case ParamType::integer:
      return "integer";
    case ParamType::real:
      return "real";
    case ParamType::boolean:
      return "boolean";
    case ParamType::string:
      return "string";
    case ParamType::choice:
      return "choice";
    case ParamType::integers:
      return "integers";
  }
  return "?";
}

std::string to_string(const ParamValue& v) {
  struct Visitor {
    std::string operator()(std::int64_t x) const { return std::to_string(x); }
    std::string operator()(double x) const { return fmt::format("{}", x); }
    std::string operator()(bool x) const { return x ? "true" : "false"; }
    std::string operator()(const std::string& x) const { return x; }
    std::string operator()(const std::vector<std::int64_t>& xs) const {
      std::string s = "[";
      for (std::size_t i = 0; i < xs.size(); ++i) {
        if (i) s += ',';
        s += std::to_string(xs[i]);
      }
      return s + "]";
    }
  };
  return std::visit(Visitor{}, v);
}

ParamSpec ParamSpec::integer(std::string name, std::int64_t def, std::int64_t lo, std::int64_t hi,
                             std::string help) {
  return {std::move(name), ParamType::integer, def, double(lo), double(hi), {}, std::move(help)};
}
ParamSpec ParamSpec::real(std::string name, double def, double lo, double hi, std::string help) {
  return {std::move(name), ParamType::real, def, lo, hi, {}, std::move(help)};
}
ParamSpec ParamSpec::boolean(std::string name, bool def, std::string help) {
  return {std::move(name), ParamType::boolean, def, {}, {}, {}, std::move(help)};
}
ParamSpec ParamSpec::string(std::string name, std::string def, std::string help) {
  return {std::move(name), ParamType::string, std::move(def), {}, {}, {}, std::move(help)};
}
ParamSpec ParamSpec::choice(std::string name, std::string def, std::vector<std::string> choices,
                            std::string help) {
  return {std::move(name),    ParamType::choice, std::move(def), {}, {},
          std::move(choices), std::move(help)};
}
ParamSpec ParamSpec::integers(std::string name, std::vector<std::int64_t> def, std::int64_t lo,
                              std::int64_t hi, std::string help) {
  return {std::move(name), ParamType::integers, std::move(def), double(lo), double(hi), {},
          std::move(help)};
}

namespace {
nlohmann::json value_json(const ParamValue& v) {
  return std::visit([](const auto& x) { return nlohmann::json(x); }, v);
}
std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}
bool parse_int(std::string_view s, std::int64_t& out) {
  auto t = trim(s);
  if (t.empty()) return false;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  return ec == std::errc() && p == t.data() + t.size();
}
bool parse_real(std::string_view s, double& out) {
  auto t = trim(s);
  if (t.empty()) return false;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
  return ec == std::errc() && p == t.data() + t.size() && std::isfinite(out);
}
std::string range_text(const ParamSpec& s) {
  auto num = [&](double x) {
    return s.type == ParamType::real ? fmt::format("{}", x) : std::to_string(std::int64_t(x));
  };
  if (s.min && s.max) return fmt::format("{}..{}", num(*s.min), num(*s.max));
  if (s.min) return ">= " + num(*s.min);
  if (s.max) return "<= " + num(*s.max);
  return "";
}
std::string join(const std::vector<std::string>& xs) {
  std::string s;
  for (std::size_t i = 0; i < xs.size(); ++i) s += (i ? ", " : "") + xs[i];
  return s;
}
}  // namespace

std::string ParamSpec::allowed() const {
  if (type == ParamType::choice) return "one of " + join(choices);
  if (type == ParamType::boolean) return "true or false";
  return range_text(*this);
}

nlohmann::json ParamSpec::to_json() const {
  nlohmann::json j{{"name", name},
                   {"type", std::string(param_type_name(type))},
                   {"default", value_json(default_value)},
                   {"help", help}};
  if (type == ParamType::choice) {
    j["choices"] = choices;
  } else if (min || max) {
    // A one-sided range has null for the open end.
    auto end = [&](const std::optional<double>& x) -> nlohmann::json {
      if (!x) return nullptr;
      if (type == ParamType::real) return *x;
      return std::int64_t(*x);
    };
    j["range"] = {end(min), end(max)};
  }
  return j;
}

Parameters Parameters::resolve(const ParamSchema& schema,
                               const std::map<std::string, std::string>& given,
                               const std::string& context, const SourceLocation& where) {
  Parameters p;
  for (const auto& s : schema) p.values_[s.name] = s.default_value;
  for (const auto& [name, text] : given) {
    const ParamSpec* spec = nullptr;
    for (const auto& s : schema)
      if (s.name == name) spec = &s;
    if (!spec) {
      std::vector<std::string> valid;
      for (const auto& s : schema) valid.push_back(s.name);
      std::sort(valid.begin(), valid.end());
      throw InputError(fmt::format("unknown parameter '{}' of {} (valid: {})", name, context,
                                   valid.empty() ? "none" : join(valid)),
                       where);
    }
    auto bad = [&](const std::string& what) {
      throw InputError(fmt::format("parameter '{}' of {}: {}", name, context, what), where);
    };
    auto check_range = [&](double x, const std::string& shown) {
      if ((spec->min && x < *spec->min) || (spec->max && x > *spec->max))
        bad(fmt::format("{} is out of range (allowed {})", shown, range_text(*spec)));
    };
    switch (spec->type) {
      case ParamType::integer: {
        std::int64_t v;
        if (!parse_int(text, v)) bad(fmt::format("'{}' is not an integer", text));
        check_range(double(v), std::to_string(v));
        p.values_[name] = v;
        break;
      }
      case ParamType::real: {
        double v;
        if (!parse_real(text, v)) bad(fmt::format("'{}' is not a number", text));
        check_range(v, fmt::format("{}", v));
        p.values_[name] = v;
        break;
      }
      case ParamType::boolean: {
        auto t = trim(text);
        if (t == "true" || t == "yes" || t == "on" || t == "1") {
          p.values_[name] = true;
        } else if (t == "false" || t == "no" || t == "off" || t == "0") {
          p.values_[name] = false;
        } else {
          bad(fmt::format("'{}' is not a boolean (allowed: true, false)", text));
        }
        break;
      }
      case ParamType::string:
        p.values_[name] = trim(text);
        break;
      case ParamType::choice: {
        auto t = trim(text);
        if (std::find(spec->choices.begin(), spec->choices.end(), t) == spec->choices.end())
          bad(fmt::format("'{}' is not one of the choices ({})", t, join(spec->choices)));
        p.values_[name] = t;
        break;
      }
      case ParamType::integers: {
        // "[1,28,28]", "1,28,28" or "1x28x28".
        std::string t = trim(text);
        if (!t.empty() && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
        for (char& c : t)
          if (c == 'x') c = ',';
        std::vector<std::int64_t> xs;
        std::vector<std::string> items;
        for (std::size_t b = 0;;) {
          auto e = t.find(',', b);
          items.push_back(t.substr(b, e == std::string::npos ? std::string::npos : e - b));
          if (e == std::string::npos) break;
          b = e + 1;
        }
        for (const auto& item : items) {
          std::int64_t v;
          if (!parse_int(item, v))
            bad(fmt::format("'{}' is not a list of integers (write e.g. [1,28,28])", text));
          check_range(double(v), std::to_string(v));
          xs.push_back(v);
        }
        if (xs.empty()) bad("the list is empty");
        const auto& def = std::get<std::vector<std::int64_t>>(spec->default_value);
        if (!def.empty() && xs.size() != def.size())
          bad(fmt::format("needs {} integers, got {}", def.size(), xs.size()));
        p.values_[name] = xs;
        break;
      }
    }
  }
  return p;
}

const ParamValue& Parameters::at(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw Error("internal: parameter '" + name + "' is not in the schema");
  return it->second;
}

template <class T>
static const T& get_as(const ParamValue& v, const std::string& name, const char* type) {
  if (auto* x = std::get_if<T>(&v)) return *x;
  throw Error(fmt::format("internal: parameter '{}' is not of type {}", name, type));
}

std::int64_t Parameters::integer(const std::string& n) const {
  return get_as<std::int64_t>(at(n), n, "integer");
}
double Parameters::real(const std::string& n) const {
  const auto& v = at(n);
  if (auto* i = std::get_if<std::int64_t>(&v)) return double(*i);
  return get_as<double>(v, n, "real");
}
bool Parameters::boolean(const std::string& n) const {
  return get_as<bool>(at(n), n, "boolean");
}
const std::string& Parameters::string(const std::string& n) const {
  return get_as<std::string>(at(n), n, "string");
}
const std::vector<std::int64_t>& Parameters::integers(const std::string& n) const {
  return get_as<std::vector<std::int64_t>>(at(n), n, "integers");
}

}  // namespace narrow
