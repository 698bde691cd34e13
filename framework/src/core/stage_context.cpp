#include <atomic>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/laws.hpp"
#include "narrow/parallel.hpp"
#include "narrow/store.hpp"
#include "narrow/strategy.hpp"

namespace narrow {

StageContext::~StageContext() = default;
Strategy::~Strategy() = default;
void Strategy::check(const StagePlan&) const {}

void StagePlan::require_earlier(const std::string& parameter, const std::string& name,
                                const std::string& strategy) const {
  std::vector<std::string> fits;
  for (const auto& e : earlier) {
    if (!strategy.empty() && e.strategy != strategy) continue;
    if (e.name == name) return;
    fits.push_back(e.name);
  }
  const std::string what = strategy.empty() ? "stage" : fmt::format("'{}' stage", strategy);
  throw ParameterError(
      parameter, fmt::format("'{}' is not a {} before '{}' ({}: {})", name, what, stage,
                             strategy.empty() ? "earlier stages" : "such stages before it",
                             fits.empty() ? "none" : fmt::format("{}", fmt::join(fits, ", "))));
}

std::string SpaceEntry::law_key(const SamplingLaw& law) const {
  std::string ranges;
  const auto& vars = space->variables();
  for (std::size_t i = 0; i < vars.size(); ++i)
    ranges += fmt::format("{}=[{},{}];", vars[i].name, law.low[i], law.high[i]);
  return fmt::format("{}|{}|{}", key, law.name, ranges);
}

UnitKey StageContext::unit_key(int version) const {
  return UnitKey(strategy(), version);
}

std::string StageContext::once(const UnitKey& key, const std::string& kind,
                               const std::function<UnitOutput()>& work, bool* stored_before) {
  const std::string hash = key.hash();
  if (auto stored = store().unit_result(hash)) {
    if (stored_before) *stored_before = true;
    return *stored;
  }
  if (stored_before) *stored_before = false;
  UnitOutput out = work();
  store().commit_records(hash, kind, stage(), out.result, out.records);
  return out.result;
}

std::vector<std::string> StageContext::once_each(const std::vector<Unit>& units,
                                                 const std::function<void(std::size_t)>& done) {
  std::vector<std::string> results(units.size());
  std::vector<std::size_t> todo;
  std::size_t finished = 0;
  // What the store holds is read first, on this thread; only the rest runs in parallel.
  for (std::size_t i = 0; i < units.size(); ++i) {
    if (auto stored = store().unit_result(units[i].key.hash()))
      results[i] = std::move(*stored), ++finished;
    else
      todo.push_back(i);
  }
  if (done && finished) done(finished);
  std::mutex commit;
  parallel_chunks(todo.size(), 1, threads(), [&](std::uint64_t begin, std::uint64_t end) {
    for (std::uint64_t t = begin; t != end; ++t) {
      const Unit& unit = units[todo[t]];
      UnitOutput out = unit.work();
      const std::lock_guard lock(commit);
      store().commit_records(unit.key.hash(), unit.kind, stage(), out.result, out.records);
      results[todo[t]] = std::move(out.result);
      if (done) done(++finished);
    }
  });
  return results;
}

std::vector<SpaceEntry> StageContext::learned_spaces(const std::string& from) {
  std::vector<SpaceEntry> out = spaces();
  std::map<std::string, SpaceEntry*> by_name;
  for (SpaceEntry& e : out) {
    e.laws.clear();
    by_name[e.name] = &e;
  }
  const std::vector<LearnedLaw> laws = stored_laws(store(), from);
  if (laws.empty())
    throw Error(fmt::format("stage '{}' draws from the laws stage '{}' learned, but that stage "
                            "stored none",
                            stage(), from));
  for (const LearnedLaw& law : laws) {
    auto it = by_name.find(law.space);
    if (it == by_name.end() || it->second->key != law.space_key)
      throw Error(fmt::format("law '{}' learned by stage '{}' is of space '{}' as it was then, "
                              "which this experiment does not hold any more",
                              law.law.name, from, law.space));
    it->second->space->check_law(law.law);
    it->second->laws.push_back(law.law);
  }
  return out;
}

}  // namespace narrow
