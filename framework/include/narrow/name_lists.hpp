#pragma once
// Parameters that name things of the experiment as a comma-separated list ("a, b"): the
// `spaces` of `statistics` and `genetic_law`, the metrics of `correlate`.
#include <string>
#include <string_view>
#include <vector>

#include "narrow/export.hpp"

namespace narrow {

struct StagePlan;

/// The items of a comma-separated list, spaces around each removed, empty items skipped:
/// "a, b,,c " gives a, b, c. A list in brackets, as a YAML list parameter arrives ("[a, b]"),
/// gives its items too.
NARROW_API std::vector<std::string> comma_list(std::string_view text);

/// Throws ParameterError(parameter) for the first of `names` that is not a space of the
/// experiment, listing the spaces. For Strategy::check.
NARROW_API void require_spaces(const StagePlan& plan, const std::string& parameter,
                               const std::vector<std::string>& names);

}  // namespace narrow
