#pragma once
// Reading experiment YAML with source locations: where a node is, the checks every mapping of
// an experiment gets, and --set overrides. Every failure is an InputError at FILE:LINE:COLUMN.
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "narrow/errors.hpp"

namespace narrow::experiment_yaml {

/// Where a node is: FILE:LINE:COLUMN (1-based), or the command line for --set values.
struct Locator {
  std::string file;
  /// Where the value of `key` in `map` is; an empty value is placed at its key (yaml-cpp gives
  /// it the position of the next token, which may be on a later line).
  SourceLocation value_at(const YAML::Node& map, const std::string& key) const;
  SourceLocation at(const YAML::Node& n) const;
};

[[noreturn]] void fail(const SourceLocation& where, const std::string& message);
/// "a, b, c".
std::string join(const std::vector<std::string>& xs);

/// The YAML document of `path`; `from` is where the file is named (empty for the experiment).
YAML::Node load_yaml_file(const std::string& path, const SourceLocation& from);
/// Applies one --set override "a.b.0.c=value". Keys may themselves contain dots (law variables
/// such as conv1.filters): at each mapping the longest existing key that matches is taken.
void apply_set(YAML::Node root, const std::string& text);
/// Sets the value at a key path ("a.b.0.c", as apply_set reads it); errors in the path are
/// reported at `where`.
void set_path(YAML::Node root, const std::string& path, const YAML::Node& value,
              const SourceLocation& where);

/// Refuses a key written twice in one mapping (YAML readers differ on which one wins).
void check_unique(const YAML::Node& map, const Locator& loc, const std::string& what);
/// Checks that a mapping has only allowed keys, each once.
void check_keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                const Locator& loc, const std::string& what);
YAML::Node require_map(const YAML::Node& n, const Locator& loc, const std::string& what);
std::string scalar(const YAML::Node& n, const Locator& loc, const std::string& what);
/// A scalar under `key` of `map`, located at the key when it is empty.
std::string scalar_at(const YAML::Node& map, const std::string& key, const Locator& loc);
/// A name: letters, digits, _ - ., at most 64 characters.
std::string name_of(const YAML::Node& n, const Locator& loc, const std::string& what);
/// A parameter value as the text Parameters::resolve reads: scalars as they are, lists of
/// scalars as "[a,b,c]".
std::string param_text(const YAML::Node& n, const Locator& loc, const std::string& name);

}  // namespace narrow::experiment_yaml
