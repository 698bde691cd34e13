#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "narrow/export.hpp"

namespace narrow {

/// What a quantity measures.
enum class Dimension { count, bytes, seconds };
NARROW_API std::string_view dimension_name(Dimension d);

/// What a metric measures, by its name: `latency` is a time (seconds), a name ending in
/// `_bytes` (weight_bytes, activation_peak_bytes...) a size, any other a count.
NARROW_API Dimension metric_dimension(std::string_view metric);

/// A parsed quantity: `16KiB` (bytes), `2MB` (bytes), `1.5M` (count), `250k` (count),
/// `10ms` / `250us` (seconds), or a plain number (any dimension).
struct NARROW_API Quantity {
  double value = 0;  // in the base unit: items, bytes or seconds
  Dimension dimension = Dimension::count;
  bool plain = false;  // a plain number without a unit
};

/// Parses a quantity; returns false (and says why in `error`) for malformed text.
/// Units: k, M, G, T (×1000ⁿ for counts); B, KB, MB, GB, TB (×1000ⁿ bytes), KiB, MiB, GiB,
/// TiB (×1024ⁿ bytes); s, ms, us, ns. Units are case-sensitive except that "kB" = "KB".
NARROW_API bool parse_quantity(std::string_view text, Quantity& out, std::string& error);

/// One item of a list of quantities: as written, and in its dimension's base unit.
struct NARROW_API ListedQuantity {
  std::string text;  // "4KiB"
  double value = 0;  // 4096
};

/// Parses a comma list of quantities of dimension `want`: "4KiB, 16KiB", or in brackets as a
/// YAML list arrives ("[4KiB, 16KiB]"); a plain number is in `want`'s base unit. Every item
/// must be above 0 and listed once. Returns false, leaving `out` as it was, with `error`
/// naming the item at fault and giving a list that would do ("write a list like 4KiB,16KiB"),
/// for a malformed item, one of another dimension, 0, a repeat, or an empty list. Callers
/// wrap `error` in their own error (ParameterError for a parameter, InputError for an option).
NARROW_API bool parse_quantity_list(std::string_view text, Dimension want,
                                    std::vector<ListedQuantity>& out, std::string& error);

/// Seconds as text with three significant digits in a unit that reads well: "1.2s",
/// "12.3ms", "850us".
NARROW_API std::string seconds_text(double seconds);

}  // namespace narrow
