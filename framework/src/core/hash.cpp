#include "narrow/hash.hpp"

#include <fmt/format.h>
#include <xxhash.h>

namespace narrow {

std::string content_hash(std::string_view text) {
  const XXH128_hash_t h = XXH3_128bits(text.data(), text.size());
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

std::uint64_t content_seed(std::string_view text) {
  return XXH3_64bits(text.data(), text.size());
}

}  // namespace narrow
