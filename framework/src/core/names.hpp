#pragma once
#include <string_view>

namespace narrow {

/// Whether `s` is a valid name of an experiment, space, law, stage or ablation variant: 1 to
/// 64 letters, digits, `_`, `-` or `.`.
bool valid_name(std::string_view s);

}  // namespace narrow
