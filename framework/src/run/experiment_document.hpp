#pragma once
// The first step of loading an experiment: the file read, --set applied and every value taken
// out with where it was written, before any plugin is consulted. Checks that need no plugin
// (keys, shapes, names, duplicates, files that exist) are made here; experiment.cpp resolves
// the document through the registry and emits the resolved form.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "narrow/errors.hpp"

namespace narrow {

/// A parameter as written: its value as text ("[a,b]" for a list) and where name and value are.
struct ParameterText {
  std::string name, text;
  SourceLocation name_at, value_at;  // value_at is name_at for an empty value
  bool empty = false;
};

/// A plugin named in the experiment (`{name|plugin|strategy: X, parameters: {...}}`).
struct PluginText {
  std::string name;
  SourceLocation where;  // of the name
  std::vector<ParameterText> parameters;
};

/// One entry of `formats:`: a text as `narrow round` takes it ("ieee(1..8,1..23)"), or a name
/// with parameters whose values are lists (ranges LOW..HIGH expanded already).
struct FormatListing {
  SourceLocation where;  // of the entry
  std::optional<std::string> text;
  std::string name;
  SourceLocation name_at;
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;  // parameter, values
  std::vector<SourceLocation> axis_at;                                 // of each axis's value
};

/// One variable's range in a law: [low, high] or one value (then low and high are the same).
struct LawRange {
  std::string variable;
  SourceLocation variable_at, range_at;
  std::string ends[2];
  SourceLocation ends_at[2];
};

/// A named law (from the experiment or a law file).
struct LawText {
  std::string name;
  std::vector<LawRange> ranges;
};

struct SpaceText {
  std::string name;  // the plugin's name when none is given
  PluginText plugin;
  bool has_laws = false;  // without `laws:`, one uniform law
  std::vector<LawText> laws;
};

/// One entry of `constraints:`: a metric and its bound as written; `fits: device` is kept with
/// metric "fits".
struct BoundText {
  std::string metric, text;
  SourceLocation key_at, value_at;
};

struct StageText {
  std::string name;
  PluginText strategy;
};

struct PluginPathText {
  std::string path;  // absolute, normalised; it exists
  SourceLocation where;
};

/// One setting of an ablation variant: a key path as --set takes it, and the value as written.
struct SetText {
  std::string path;
  SourceLocation path_at;
  YAML::Node value;  // keeps its place in the file, so errors about it point there
};

/// One entry of `ablation:`.
struct VariantText {
  std::string name;
  SourceLocation name_at;
  std::vector<SetText> sets;
};

struct ExperimentDocument {
  std::string file;
  std::string name;
  std::uint64_t seed = 0;
  std::vector<PluginPathText> plugin_paths;
  std::optional<PluginText> dataset, device;
  std::vector<FormatListing> formats;
  std::vector<SpaceText> spaces;
  std::vector<BoundText> bounds;
  std::vector<StageText> stages;
  std::vector<std::uint64_t> seeds;  // `seeds:`; empty when not written
  std::vector<VariantText> ablation;
};

/// Reads `file`, applies `sets` ("path.to.key=value") and checks the document's shape. Throws
/// InputError "FILE:LINE:COLUMN: error: what (what is allowed)".
/// With `variant`, its settings are applied after `sets`: the document of that ablation
/// variant (its own `ablation` is then empty).
ExperimentDocument parse_experiment(const std::string& file, const std::vector<std::string>& sets,
                                    const VariantText* variant = nullptr);

}  // namespace narrow
