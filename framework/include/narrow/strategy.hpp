#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "narrow/component.hpp"
#include "narrow/constraints.hpp"
#include "narrow/dataset.hpp"
#include "narrow/errors.hpp"
#include "narrow/export.hpp"
#include "narrow/format.hpp"
#include "narrow/metrics.hpp"
#include "narrow/record.hpp"
#include "narrow/space.hpp"
#include "narrow/unit_key.hpp"

namespace narrow {

class Store;
class Registry;
class TrainingService;

/// A space of the experiment with its laws.
struct NARROW_API SpaceEntry {
  std::string name;    // the space's name in the experiment
  std::string plugin;  // the plugin that builds it
  const SearchSpace* space = nullptr;
  std::vector<SamplingLaw> laws;  // at least one
  std::string key;  // content key of the space: plugin, its version and resolved parameters

  /// The content key of `law` (one of `laws`) in this space: the space's key, the law's name
  /// and every variable's range. What units drawing from the law depend on.
  std::string law_key(const SamplingLaw& law) const;
};

/// A number format of the experiment's `formats:` (lists and ranges expanded), built once.
struct NARROW_API FormatEntry {
  std::string name;  // as the format prints itself, e.g. "ieee(4,3)", "half"
  std::string key;   // content key: plugin, its version and resolved parameters
  const NumberFormat* format = nullptr;
  FormatText text;   // its registered name and parameters: what builds it again (jobs)
};

/// The experiment around a stage: for the checks a strategy makes before any work, and for
/// its run (StageContext::plan).
struct NARROW_API StagePlan {
  std::string stage;                // this stage's name
  std::vector<std::string> spaces;  // the experiment's space names, in order
  struct Earlier {
    std::string name, strategy;
  };
  std::vector<Earlier> earlier;  // the stages before this one, in order
  bool device = false;           // the experiment names a device
  bool device_predicts = false;  // ... and it predicts latency
  /// The spaces themselves, in the order of `spaces`: what a check needs of them (their
  /// variables, their references) before any work.
  std::vector<const SearchSpace*> space_objects;
  /// The run's plugin registry, for what a check builds by name (a number format); nullptr
  /// when the plan is made without one.
  const Registry* registry = nullptr;
  /// Throws ParameterError(parameter) unless `name` is a stage before this one and, when
  /// `strategy` is given, one of that strategy; the message lists the stages that would do.
  void require_earlier(const std::string& parameter, const std::string& name,
                       const std::string& strategy = "") const;
};

/// What a strategy sees of the run: the spaces with their laws, the constraints, the store, a
/// seed for the stage, threads, and progress reporting.
class NARROW_API StageContext {
 public:
  virtual ~StageContext();
  virtual const std::string& stage() const = 0;  // the stage's name
  virtual std::uint64_t seed() const = 0;        // derived from the experiment seed and stage
  virtual int threads() const = 0;
  virtual const std::vector<SpaceEntry>& spaces() const = 0;
  virtual const Constraints& constraints() const = 0;
  virtual Store& store() = 0;
  /// The run folder, where a stage may write files (CSV tables, plots) next to the store.
  virtual const std::string& output_dir() const = 0;
  /// The plugin registry of the run (for keys of datasets, and for objects built by name).
  virtual const Registry& registry() const = 0;
  /// The experiment's dataset with the split seed: Fashion-MNIST through `idx` when the
  /// experiment names none.
  virtual const DatasetSpec& dataset() const = 0;
  /// The number formats of the experiment's `formats:`, in the order written (empty when it
  /// has none).
  virtual const std::vector<FormatEntry>& formats() const = 0;
  /// The service that trains models (the local scheduler, or a distributed one). Created on
  /// first use, which loads LibTorch; throws Error when narrow cannot load it.
  virtual TrainingService& training() = 0;
  /// A line of information for the user (stderr).
  virtual void info(const std::string& line) = 0;
  /// The stage's result for `run --json` and the summary (replaces any earlier one).
  virtual void set_summary(const std::string& json) = 0;
  /// The experiment's `device`, or nullptr without one. A stage that measures on it does so
  /// from one thread, while no other work of the stage runs.
  virtual Device* device() = 0;
  /// The registered name of the stage's strategy ("random").
  virtual const std::string& strategy() const = 0;
  /// The experiment around this stage, as Strategy::check saw it.
  virtual const StagePlan& plan() const = 0;

  // The unit-of-work kit: every strategy keys, finds and stores its units the same way.

  /// A unit key that starts with the strategy's name and `version` of its keys: add the
  /// parameters, constraints, space and law keys and seed that determine the unit.
  UnitKey unit_key(int version) const;
  /// What one unit of work produced: its result (JSON) and records of the strategy's own kinds.
  struct UnitOutput {
    std::string result = "{}";
    std::vector<Record> records;
  };
  /// Does a unit of work once: when the store holds `key`, returns its stored result without
  /// calling `work` (a resumed run); otherwise calls `work` and stores what it returns, result
  /// and records in one transaction, as a unit of kind `kind` ("<strategy>.<what>"), and
  /// returns the result. `stored_before`, when given, tells which of the two happened.
  std::string once(const UnitKey& key, const std::string& kind,
                   const std::function<UnitOutput()>& work, bool* stored_before = nullptr);

  /// One unit of work for once_each.
  struct Unit {
    UnitKey key;
    std::string kind;  // "<strategy>.<what>"
    std::function<UnitOutput()> work;
  };
  /// Does independent units on threads() threads: a unit the store holds is not redone (its
  /// stored result is returned); every other unit's work runs on one thread and is stored as
  /// soon as it ends (one commit at a time), so a killed stage loses only the units that were
  /// running. Returns the results in the order of `units`. `done`, when given, is called from
  /// one thread at a time with the number of units finished (stored ones included). The first
  /// exception of a work is rethrown once the running units end; units that ended before it
  /// are stored.
  std::vector<std::string> once_each(const std::vector<Unit>& units,
                                     const std::function<void(std::size_t)>& done = {});

  /// The experiment's spaces, each with the laws that the earlier stage `stage` learned
  /// (records of kind learned_law_kind, narrow/laws.hpp) in place of its own; a space for
  /// which that stage learned none has no laws. Throws Error when the stage stored no laws, or
  /// when a stored law belongs to a space that is not the experiment's any more.
  std::vector<SpaceEntry> learned_spaces(const std::string& stage);
};

/// One stage of an experiment. Strategies keep every unit of work in the store keyed by what
/// determines it, and skip units already stored (this is what makes --resume work).
class NARROW_API Strategy : public Component {
 public:
  ~Strategy() override;
  virtual void run(StageContext& context) = 0;
  /// Checks the parameters against the rest of the experiment (the spaces they name, the
  /// earlier stages whose results they read) when the experiment is validated, before any
  /// work; throws ParameterError naming the parameter at fault. Default: nothing to check.
  virtual void check(const StagePlan& plan) const;
};

}  // namespace narrow
