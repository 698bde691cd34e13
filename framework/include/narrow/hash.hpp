#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "narrow/export.hpp"

namespace narrow {

/// Content key of a text: 32 hex digits of XXH3-128. Units of work are keyed by the content
/// key of everything that determines them.
NARROW_API std::string content_hash(std::string_view text);
/// A 64-bit seed from a text (XXH3-64), for random streams derived from content.
NARROW_API std::uint64_t content_seed(std::string_view text);

}  // namespace narrow
