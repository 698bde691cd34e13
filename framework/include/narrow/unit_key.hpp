#pragma once
// Keys of units of work. Every unit a strategy stores is keyed by a content hash of what
// determines its result, so that `--resume` finds it and redoes nothing (strategy.hpp).
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "narrow/export.hpp"

namespace narrow {

/// The key of a unit of work, built from the strategy's name and the version of its keys
/// ("random/1"), then each part that determines the result, in a fixed order: "|name=value"
/// for a named value, "|text" for a key of its own (a law key, a device description). The
/// content hash of that text is the key. A strategy that changes what its units mean bumps
/// its version, so that stored units of the old meaning are not taken for new ones.
class NARROW_API UnitKey {
 public:
  UnitKey(std::string_view strategy, int version);
  UnitKey& add(std::string_view name, std::string_view value);
  UnitKey& add(std::string_view name, int value);
  UnitKey& add(std::string_view name, std::int64_t value);
  UnitKey& add(std::string_view name, std::uint64_t value);
  UnitKey& add(std::string_view part);
  /// The text that is hashed, for messages and tests.
  const std::string& text() const { return text_; }
  /// The content key: content_hash(text()).
  std::string hash() const;

 private:
  std::string text_;
};

/// The key of a unit described by a JSON object: content_hash(kind + ":" + what.dump()), the
/// spelling of training keys ("train") and precision evaluations ("precision").
NARROW_API std::string content_key(std::string_view kind, const nlohmann::json& what);

}  // namespace narrow
