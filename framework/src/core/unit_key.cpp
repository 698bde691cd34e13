#include "narrow/unit_key.hpp"

#include <nlohmann/json.hpp>

#include "narrow/hash.hpp"

namespace narrow {

UnitKey::UnitKey(std::string_view strategy, int version)
    : text_(std::string(strategy) + "/" + std::to_string(version)) {}

UnitKey& UnitKey::add(std::string_view name, std::string_view value) {
  text_.append("|").append(name).append("=").append(value);
  return *this;
}

UnitKey& UnitKey::add(std::string_view name, int value) {
  return add(name, std::int64_t{value});
}

UnitKey& UnitKey::add(std::string_view name, std::int64_t value) {
  return add(name, std::string_view(std::to_string(value)));
}

UnitKey& UnitKey::add(std::string_view name, std::uint64_t value) {
  return add(name, std::string_view(std::to_string(value)));
}

UnitKey& UnitKey::add(std::string_view part) {
  text_.append("|").append(part);
  return *this;
}

std::string UnitKey::hash() const {
  return content_hash(text_);
}

std::string content_key(std::string_view kind, const nlohmann::json& what) {
  return content_hash(std::string(kind) + ":" + what.dump());
}

}  // namespace narrow
