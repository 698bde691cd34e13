#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "narrow/errors.hpp"
#include "narrow/export.hpp"
#include "narrow/space.hpp"
#include "narrow/strategy.hpp"

namespace narrow {

class Registry;
class PluginLoader;

/// A plugin object named in an experiment: its registered name and raw parameter values.
struct NARROW_API PluginUse {
  std::string name;
  std::map<std::string, std::string> parameters;  // as written (validated against the schema)
  SourceLocation where;
};

/// A space of the experiment: which plugin builds it, its parameters, its laws.
struct NARROW_API ExperimentSpace {
  std::string name;
  PluginUse plugin;
  std::vector<SamplingLaw> laws;
  std::shared_ptr<SearchSpace> space;  // built during validation
  std::string key;                     // content key: plugin, version, resolved parameters
};

/// A stage: a strategy with its parameters.
struct NARROW_API ExperimentStage {
  std::string name;
  PluginUse strategy;
};

/// A validated experiment (see docs/experiments.md). Loading checks everything before any
/// work starts and throws InputError "FILE:LINE:COLUMN: error: what (what is allowed)".
struct NARROW_API Experiment {
  std::string file;  // the experiment file as given
  std::string name;
  std::uint64_t seed = 0;
  std::vector<std::string> plugin_paths;  // absolute
  std::optional<PluginUse> dataset, device;
  /// The device named under `device:`, built during validation (null without one). The
  /// constraints point at it for `latency`, and stages reach it through StageContext::device.
  std::shared_ptr<Device> device_object;
  std::vector<PluginUse> formats;
  std::vector<ExperimentSpace> spaces;
  Constraints constraints;
  std::vector<ExperimentStage> stages;
  /// The seeds every run repeats under (`seeds:`, else the one `seed`).
  std::vector<std::uint64_t> seeds;
  /// One entry of `ablation:`: the experiment with the variant's settings applied, validated
  /// like the experiment itself.
  struct Variant {
    std::string name;
    std::vector<std::pair<std::string, std::string>> sets;  // key path, value as YAML text
    std::shared_ptr<const Experiment> experiment;
  };
  std::vector<Variant> ablation;
  /// The resolved experiment as YAML: every default filled in, laws expanded over every
  /// variable, includes inlined, overrides applied. Same text, same run.
  std::string resolved;

  /// Reads, overrides (`sets`: "path.to.key=value") and validates. Plugin folders named under
  /// `plugins:` are loaded into the registry through `loader`.
  static Experiment load(const std::string& file, const std::vector<std::string>& sets,
                         Registry& registry, PluginLoader& loader);
};

/// The experiment around its stage number `index`: what Strategy::check sees when the
/// experiment is validated and StageContext::plan during the run.
NARROW_API StagePlan stage_plan(const Experiment& experiment, std::size_t index,
                                const Registry* registry = nullptr);

/// The resolved experiment as YAML (Experiment::resolved): every plugin with its version and
/// every parameter, every law over every variable, the constraints as numbers.
std::string emit_resolved(const Experiment& experiment, const Registry& registry);

}  // namespace narrow
