#include "reference_selection.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "narrow/errors.hpp"
#include "narrow/metrics.hpp"
#include "narrow/units.hpp"
#include "narrow/width_scaling.hpp"

namespace narrow::strategies {

std::vector<Budget> parse_budgets(const std::string& text, const std::string& metric) {
  std::vector<ListedQuantity> items;
  std::string error;
  if (!parse_quantity_list(text, metric_dimension(metric), items, error))
    throw ParameterError("budgets", error);
  std::vector<Budget> out;
  for (auto& item : items) out.push_back(Budget{std::move(item.text), item.value});
  return out;
}

bool chooses_space(const ReferenceRequest& request, const std::string& space) {
  return request.spaces.empty() ||
         std::count(request.spaces.begin(), request.spaces.end(), space) > 0;
}

std::vector<std::pair<std::string, const SearchSpace*>> chosen_spaces(
    const std::vector<std::string>& names, const std::vector<const SearchSpace*>& spaces,
    const ReferenceRequest& request) {
  std::vector<std::pair<std::string, const SearchSpace*>> out;
  for (std::size_t i = 0; i < names.size() && i < spaces.size(); ++i)
    if (chooses_space(request, names[i])) out.emplace_back(names[i], spaces[i]);
  return out;
}

void check_references(const std::vector<std::pair<std::string, const SearchSpace*>>& spaces,
                      const ReferenceRequest& request) {
  std::set<std::string> known;
  for (const auto& [name, space] : spaces)
    for (const auto& r : space->references()) known.insert(r);
  for (const auto& name : request.references) {
    if (!known.count(name))
      throw ParameterError("references",
                           fmt::format("'{}' is not a reference of the spaces it shrinks "
                                       "(references: {})",
                                       name, fmt::join(known, ", ")));
    // A named reference must build in every chosen space that has it.
    for (const auto& [space_name, space] : spaces) {
      const auto refs = space->references();
      if (!std::count(refs.begin(), refs.end(), name)) continue;
      try {
        space->build(space->reference(name));
      } catch (const Error& e) {
        throw ParameterError("references",
                             fmt::format("'{}' cannot be built in space '{}': {}", name,
                                         space_name, e.what()));
      }
    }
  }
}

std::vector<ShrunkReference> shrink_references(StageContext& ctx,
                                               const ReferenceRequest& request) {
  // The named references were checked when the experiment was validated (check_references).
  std::vector<const SpaceEntry*> spaces;
  for (const SpaceEntry& e : ctx.spaces())
    if (chooses_space(request, e.name)) spaces.push_back(&e);

  std::vector<ShrunkReference> out;
  for (const SpaceEntry* e : spaces) {
    for (const auto& name : e->space->references()) {
      if (!request.references.empty() &&
          !std::count(request.references.begin(), request.references.end(), name))
        continue;
      // A reference this space's parameters cannot hold (too few layers allowed, say) is
      // an error when it was named, and skipped when the stage takes every reference.
      Architecture full;
      try {
        full = e->space->build(e->space->reference(name));
        full.finalize();
      } catch (const Error& error) {
        if (!request.references.empty()) throw;
        ctx.info(fmt::format("{}: {}/{} skipped: {}", ctx.stage(), e->name, name, error.what()));
        continue;
      }
      for (const Budget& budget : request.budgets) {
        const ShrunkModel s = shrink_to_budget(full, request.metric, budget.value);
        if (!s.fits) {
          ctx.info(fmt::format("{}: {}/{}@{} skipped: even every width 1 has {} {}, over {}",
                               ctx.stage(), e->name, name, budget.text, request.metric, s.value,
                               budget.text));
          continue;
        }
        ShrunkReference r;
        r.space = e->name;
        r.space_key = e->key;
        r.reference = name;
        r.budget = budget;
        r.factor = s.factor;
        r.value = s.value;
        r.architecture = ArchitectureRecord{s.architecture.hash(),
                                            s.architecture.to_json_string(),
                                            analyse(s.architecture)};
        out.push_back(std::move(r));
      }
    }
  }
  return out;
}

nlohmann::json reference_record(const ShrunkReference& r, const std::string& metric,
                                const std::string& training) {
  // A whole budget (every size and count written with a unit is one) as an integer.
  const double b = r.budget.value;
  const nlohmann::json budget = b == std::floor(b) && std::abs(b) < 9e15
                                    ? nlohmann::json(static_cast<std::int64_t>(b))
                                    : nlohmann::json(b);
  return {{"space", r.space},
          {"reference", r.reference},
          {"budget", budget},
          {"budget_text", r.budget.text},
          {"metric", metric},
          {"factor", r.factor},
          {"value", r.value},
          {"hash", r.architecture.hash},
          {"training", training}};
}

}  // namespace narrow::strategies
