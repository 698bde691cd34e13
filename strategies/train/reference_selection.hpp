#pragma once
// `select: references` of the train strategy: the reference models of the spaces, each shrunk
// to each budget by width scaling (narrow/width_scaling.hpp), so that searched models and the
// models people shrink by hand compare at equal memory (Scheidegger et al. Figure 5).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "narrow/store.hpp"
#include "narrow/strategy.hpp"

namespace narrow::strategies {

/// One budget of the `budgets` parameter: as written, and in the metric's unit.
struct Budget {
  std::string text;  // "4KiB"
  double value = 0;  // 4096
};

/// The `budgets` parameter: a list "[4KiB, 16KiB]" (or "4KiB, 16KiB") of quantities of what
/// `metric` measures (narrow::metric_dimension: sizes for the *_bytes metrics, counts such as
/// "250k" for the others), read by narrow::parse_quantity_list. Throws
/// ParameterError("budgets") naming the item at fault and what is allowed.
std::vector<Budget> parse_budgets(const std::string& text, const std::string& metric);

/// One reference model shrunk to one budget.
struct ShrunkReference {
  std::string space, reference;  // the space's name in the experiment, the reference's name
  std::string space_key;         // the space's content key (SpaceEntry::key)
  Budget budget;
  double factor = 0;             // the width factor that gives it
  std::int64_t value = 0;        // its metric
  ArchitectureRecord architecture;
};

/// What `select: references` asks for.
struct ReferenceRequest {
  std::vector<Budget> budgets;
  std::string metric;
  std::vector<std::string> references;  // empty: every reference of every space
  std::vector<std::string> spaces;      // empty: every space
};

/// Whether the request chooses the space named `space` (every space when it names none).
bool chooses_space(const ReferenceRequest& request, const std::string& space);

/// The spaces the request chooses, from the experiment's space names
/// and objects in the same order (StagePlan::spaces, StagePlan::space_objects).
std::vector<std::pair<std::string, const SearchSpace*>> chosen_spaces(
    const std::vector<std::string>& names, const std::vector<const SearchSpace*>& spaces,
    const ReferenceRequest& request);

/// Throws ParameterError("references") for a named reference that none of the chosen spaces
/// has (listing those they have), or that a space which has it cannot build with its
/// parameters (saying why). For Strategy::check, before any work.
void check_references(const std::vector<std::pair<std::string, const SearchSpace*>>& spaces,
                      const ReferenceRequest& request);

/// Builds and shrinks every reference the request names, in the order of the spaces, their
/// references and the budgets. A reference whose smallest widths are over a budget is
/// skipped with an info line. The named references are those check_references accepted when
/// the experiment was validated.
std::vector<ShrunkReference> shrink_references(StageContext& ctx, const ReferenceRequest& request);

/// The record of kind `train.reference` of a shrunk reference that trains under `training`
/// (the training's key): {space, reference, budget, metric, factor, value, hash, training}.
nlohmann::json reference_record(const ShrunkReference& r, const std::string& metric,
                                const std::string& training);

}  // namespace narrow::strategies
