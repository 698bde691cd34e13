#include "narrow/units.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "narrow/name_lists.hpp"

namespace narrow {

std::string_view dimension_name(Dimension d) {
  switch (d) {
    case Dimension::count:
      return "count";
    case Dimension::bytes:
      return "size";
    case Dimension::seconds:
      return "time";
  }
  return "?";
}

Dimension metric_dimension(std::string_view metric) {
  constexpr std::string_view suffix = "_bytes";
  if (metric == "latency") return Dimension::seconds;
  return metric.size() > suffix.size() && metric.substr(metric.size() - suffix.size()) == suffix
             ? Dimension::bytes
             : Dimension::count;
}

namespace {
struct Unit {
  std::string_view suffix;
  double factor;
  Dimension dimension;
};
// Longest suffixes first, so that "KiB" is not read as "B".
constexpr Unit units[] = {
    {"KiB", 1024.0, Dimension::bytes},
    {"MiB", 1024.0 * 1024, Dimension::bytes},
    {"GiB", 1024.0 * 1024 * 1024, Dimension::bytes},
    {"TiB", 1024.0 * 1024 * 1024 * 1024, Dimension::bytes},
    {"KB", 1e3, Dimension::bytes},
    {"kB", 1e3, Dimension::bytes},
    {"MB", 1e6, Dimension::bytes},
    {"GB", 1e9, Dimension::bytes},
    {"TB", 1e12, Dimension::bytes},
    {"ms", 1e-3, Dimension::seconds},
    {"us", 1e-6, Dimension::seconds},
    {"ns", 1e-9, Dimension::seconds},
    {"B", 1.0, Dimension::bytes},
    {"s", 1.0, Dimension::seconds},
    {"k", 1e3, Dimension::count},
    {"M", 1e6, Dimension::count},
    {"G", 1e9, Dimension::count},
    {"T", 1e12, Dimension::count},
};
}  // namespace

bool parse_quantity(std::string_view text, Quantity& out, std::string& error) {
  auto b = text.find_first_not_of(" \t");
  auto e = text.find_last_not_of(" \t");
  if (b == std::string_view::npos) {
    error = "empty value";
    return false;
  }
  std::string_view t = text.substr(b, e - b + 1);
  // The number: digits, '.', exponent; from_chars reads the longest number prefix.
  double value = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec != std::errc() || p == t.data()) {
    error = fmt::format("'{}' does not start with a number", t);
    return false;
  }
  std::string_view suffix(p, std::size_t(t.data() + t.size() - p));
  while (!suffix.empty() && suffix.front() == ' ') suffix.remove_prefix(1);
  if (!std::isfinite(value) || value < 0) {
    error = fmt::format("'{}' must be a finite number >= 0", t);
    return false;
  }
  out = Quantity{value, Dimension::count, suffix.empty()};
  if (suffix.empty()) return true;
  for (const auto& u : units) {
    if (suffix == u.suffix) {
      out.value = value * u.factor;
      out.dimension = u.dimension;
      return true;
    }
  }
  error = fmt::format(
      "unknown unit '{}' in '{}' (sizes: B, kB or KB, MB, GB, TB, KiB, MiB, GiB, TiB; counts: "
      "k, M, G, T; times: s, ms, us, ns)",
      suffix, t);
  return false;
}

bool parse_quantity_list(std::string_view text, Dimension want, std::vector<ListedQuantity>& out,
                         std::string& error) {
  const std::string_view example = want == Dimension::bytes     ? "4KiB,16KiB"
                                   : want == Dimension::seconds ? "10ms,50ms"
                                                                : "1k,5k";
  const auto fail = [&](const std::string& what) {
    error = fmt::format("{} (write a list like {})", what, example);
    return false;
  };
  std::vector<ListedQuantity> items;
  for (const auto& item : comma_list(text)) {
    Quantity q;
    std::string why;
    if (!parse_quantity(item, q, why)) return fail(why);
    if (!q.plain && q.dimension != want)
      return fail(fmt::format("'{}' is a {}, not a {}", item, dimension_name(q.dimension),
                              dimension_name(want)));
    if (!(q.value > 0)) return fail(fmt::format("'{}' must be more than 0", item));
    for (const auto& before : items) {
      if (before.value != q.value) continue;
      error = before.text == item
                  ? fmt::format("'{}' is listed twice", item)
                  : fmt::format("'{}' is listed twice (as '{}' before)", item, before.text);
      return false;
    }
    items.push_back(ListedQuantity{item, q.value});
  }
  if (items.empty()) return fail("needs at least one value");
  out = std::move(items);
  return true;
}

std::string seconds_text(double s) {
  if (s >= 1) return fmt::format("{:.3g}s", s);
  if (s >= 1e-3) return fmt::format("{:.3g}ms", s * 1e3);
  return fmt::format("{:.3g}us", s * 1e6);
}

}  // namespace narrow
