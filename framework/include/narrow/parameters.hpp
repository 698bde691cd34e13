#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "narrow/errors.hpp"
#include "narrow/export.hpp"

namespace narrow {

/// The type of a plugin parameter.
enum class ParamType { integer, real, boolean, string, choice, integers };
NARROW_API std::string_view param_type_name(ParamType t);

/// A parameter value: integers, reals, booleans, strings (also choices), lists of integers.
using ParamValue = std::variant<std::int64_t, double, bool, std::string, std::vector<std::int64_t>>;
NARROW_API std::string to_string(const ParamValue& v);

/// One entry of a plugin's parameter schema.
struct NARROW_API ParamSpec {
  std::string name;
  ParamType type = ParamType::integer;
  ParamValue default_value;
  std::optional<double> min, max;    // inclusive range (integer, real, each of integers)
  std::vector<std::string> choices;  // for ParamType::choice
  std::string help;                  // one line
  // Builders for readable schemas.
  static ParamSpec integer(std::string name, std::int64_t def, std::int64_t lo, std::int64_t hi,
                           std::string help);
  static ParamSpec real(std::string name, double def, double lo, double hi, std::string help);
  static ParamSpec boolean(std::string name, bool def, std::string help);
  static ParamSpec string(std::string name, std::string def, std::string help);
  static ParamSpec choice(std::string name, std::string def, std::vector<std::string> choices,
                          std::string help);
  static ParamSpec integers(std::string name, std::vector<std::int64_t> def, std::int64_t lo,
                            std::int64_t hi, std::string help);
  nlohmann::json to_json() const;
  /// What values are allowed, in words: "1..64", ">= 0", "one of max, avg", "" for any.
  std::string allowed() const;
};

using ParamSchema = std::vector<ParamSpec>;

/// Validated parameter values of one plugin object: every schema entry has a value.
class NARROW_API Parameters {
 public:
  Parameters() = default;
  /// Defaults of the schema, overridden by `given` (raw text, as from YAML or --param).
  /// Unknown names, bad types and values out of range throw InputError naming `context`
  /// (e.g. "space 'sequential'") and what is allowed.
  static Parameters resolve(const ParamSchema& schema,
                            const std::map<std::string, std::string>& given,
                            const std::string& context, const SourceLocation& where = {});

  std::int64_t integer(const std::string& name) const;
  double real(const std::string& name) const;
  bool boolean(const std::string& name) const;
  const std::string& string(const std::string& name) const;  // strings and choices
  const std::vector<std::int64_t>& integers(const std::string& name) const;
  const std::map<std::string, ParamValue>& values() const { return values_; }
  void set(const std::string& name, ParamValue v) { values_[name] = std::move(v); }

 private:
  const ParamValue& at(const std::string& name) const;
  std::map<std::string, ParamValue> values_;
};

}  // namespace narrow
