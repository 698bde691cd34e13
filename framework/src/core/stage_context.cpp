#include <fmt/format.h>

#include "narrow/store.hpp"
#include "narrow/strategy.hpp"

namespace narrow {

StageContext::~StageContext() = default;
Strategy::~Strategy() = default;

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

}  // namespace narrow
