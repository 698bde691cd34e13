#pragma once
// Internal: the current UTC time as text, for the calibration file's date (utc_timestamp in
// narrow/latency_model.hpp) and the runner's start, finish and run-directory stamps.
#include <string>

namespace narrow {

/// ISO 8601 to the second, "YYYY-MM-DDTHH:MM:SSZ", as a strftime format.
inline constexpr const char* utc_iso_format = "%Y-%m-%dT%H:%M:%SZ";

/// The current UTC time in a strftime format (at most 31 characters of text).
std::string utc_now(const char* format);

}  // namespace narrow
