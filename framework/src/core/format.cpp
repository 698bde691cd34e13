#include "narrow/format.hpp"

#include <algorithm>
#include <cmath>
#include <ranges>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/errors.hpp"
#include "narrow/random.hpp"
#include "narrow/registry.hpp"

namespace narrow {

namespace {
constexpr Rounding every_rounding[] = {Rounding::nearest_even, Rounding::toward_zero,
                                       Rounding::up, Rounding::down, Rounding::stochastic};

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}
}  // namespace

std::string_view rounding_name(Rounding r) {
  switch (r) {
    case Rounding::nearest_even:
      return "nearest_even";
    case Rounding::toward_zero:
      return "toward_zero";
    case Rounding::up:
      return "up";
    case Rounding::down:
      return "down";
    case Rounding::stochastic:
      return "stochastic";
  }
  return "unknown";
}

bool parse_rounding(std::string_view name, Rounding& out) {
  for (Rounding r : every_rounding)
    if (rounding_name(r) == name) {
      out = r;
      return true;
    }
  return false;
}

std::vector<Rounding> all_roundings() {
  return {std::begin(every_rounding), std::end(every_rounding)};
}

std::uint64_t stochastic_bits(std::uint64_t seed, std::uint64_t index) {
  return mix64(mix64(seed) + index);
}

double round_integer(double s, Rounding mode, std::uint64_t random) {
  const double lower = std::floor(s);
  const double frac = s - lower;  // exact
  if (frac == 0) return s;
  switch (mode) {
    case Rounding::nearest_even:
      if (frac > 0.5) return lower + 1;
      if (frac < 0.5) return lower;
      return std::fmod(lower, 2.0) == 0 ? lower : lower + 1;
    case Rounding::toward_zero:
      return s < 0 ? lower + 1 : lower;
    case Rounding::up:
      return lower + 1;
    case Rounding::down:
      return lower;
    case Rounding::stochastic: {
      const double u = double(random >> 11) * 0x1p-53;  // uniform in [0, 1)
      return u < frac ? lower + 1 : lower;
    }
  }
  return lower;
}

NumberFormat::~NumberFormat() = default;

std::vector<Rounding> NumberFormat::roundings() const {
  return all_roundings();
}

void NumberFormat::quantize(std::span<float> values, const TensorInfo&,
                            const RoundingOptions& options) const {
  round(values, options);
}

std::int64_t NumberFormat::stored_bits(const TensorInfo& tensor, std::int64_t values) const {
  return tensor.role == TensorInfo::Role::activation ? 0 : values * bits();
}

std::int64_t NumberFormat::calibration_images() const {
  return 0;
}

FormatText parse_format_text(const Registry& registry, std::string_view text) {
  const std::string spec = trim(text);
  FormatText out;
  out.name = spec;
  std::vector<std::string> values;
  if (const auto open = spec.find('('); open != std::string::npos) {
    if (spec.back() != ')')
      throw InputError(fmt::format("format '{}' must be NAME or NAME(v1,v2,...)", spec));
    out.name = trim(spec.substr(0, open));
    const std::string inside = spec.substr(open + 1, spec.size() - open - 2);
    std::size_t start = 0;
    while (start <= inside.size()) {
      const auto comma = inside.find(',', start);
      const auto part = trim(inside.substr(start, comma == std::string::npos ? std::string::npos
                                                                             : comma - start));
      if (part.empty())
        throw InputError(fmt::format("format '{}' has an empty value in its parentheses", spec));
      values.push_back(part);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  const Registration& r = registry.find(Kind::format, out.name);
  if (values.size() > r.schema.size())
    throw InputError(fmt::format("format '{}' takes at most {} values in parentheses ({}), got {}",
                                 out.name, r.schema.size(),
                                 fmt::join(r.schema | std::views::transform(
                                                          [](const ParamSpec& p) { return p.name; }),
                                           ", "),
                                 values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) out.parameters[r.schema[i].name] = values[i];
  return out;
}

std::unique_ptr<NumberFormat> create_format(const Registry& registry, std::string_view text,
                                            const std::map<std::string, std::string>& extra) {
  auto [name, params] = parse_format_text(registry, text);
  for (const auto& [k, v] : extra) params[k] = v;
  return registry.make<NumberFormat>(name, params);
}

std::string format_key(const Registry& registry, const std::string& name,
                       const std::map<std::string, std::string>& parameters) {
  return registry.use_key(Kind::format, name, parameters);
}

std::vector<std::string> expand_format_spec(std::string_view text) {
  const std::string spec = trim(text);
  const auto open = spec.find('(');
  if (open == std::string::npos || spec.back() != ')') return {spec};
  const std::string name = trim(spec.substr(0, open));
  const std::string inside = spec.substr(open + 1, spec.size() - open - 2);
  std::vector<std::vector<std::string>> choices;
  std::size_t start = 0;
  while (true) {
    const auto comma = inside.find(',', start);
    const std::string part =
        trim(inside.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    std::vector<std::string> values;
    if (const auto dots = part.find(".."); dots != std::string::npos) {
      long long lo = 0, hi = 0;
      try {
        std::size_t a = 0, b = 0;
        lo = std::stoll(part.substr(0, dots), &a);
        hi = std::stoll(part.substr(dots + 2), &b);
        if (a != dots || b != part.size() - dots - 2) throw std::invalid_argument(part);
      } catch (const std::exception&) {
        throw InputError(fmt::format("format '{}': '{}' is not a range LOW..HIGH of integers",
                                     spec, part));
      }
      if (lo > hi || hi - lo > 100000)
        throw InputError(fmt::format("format '{}': range '{}' is empty or too long", spec, part));
      for (long long v = lo; v <= hi; ++v) values.push_back(std::to_string(v));
    } else {
      values.push_back(part);
    }
    choices.push_back(std::move(values));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::vector<std::string> out{""};
  for (std::size_t k = 0; k < choices.size(); ++k) {
    std::vector<std::string> next;
    for (const auto& prefix : out)
      for (const auto& v : choices[k]) next.push_back(prefix + (k ? "," : "") + v);
    out = std::move(next);
    if (out.size() > 100000)
      throw InputError(fmt::format("format '{}' expands to more than 100,000 formats", spec));
  }
  for (auto& o : out) o = name + "(" + o + ")";
  return out;
}

}  // namespace narrow
