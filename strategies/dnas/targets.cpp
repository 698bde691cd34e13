#include "targets.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/channel_search.hpp"
#include "narrow/errors.hpp"
#include "narrow/units.hpp"

namespace narrow::strategies {
namespace {

std::string trim(std::string_view s) {
  const auto a = s.find_first_not_of(" \t\n");
  if (a == std::string_view::npos) return "";
  const auto b = s.find_last_not_of(" \t\n");
  return std::string(s.substr(a, b - a + 1));
}

[[noreturn]] void bad(const std::string& what) {
  throw ParameterError("targets", what + "; write targets like {deployed_bytes: 20%, latency: 2ms}");
}

}  // namespace

std::vector<TargetSpec> parse_targets(std::string_view text) {
  std::string body = trim(text);
  if (body.size() >= 2 && body.front() == '{' && body.back() == '}')
    body = trim(std::string_view(body).substr(1, body.size() - 2));
  if (body.empty()) bad("no target given");
  const auto& names = channel_cost_names();
  std::vector<TargetSpec> out;
  std::size_t start = 0;
  while (start <= body.size()) {
    std::size_t end = body.find(',', start);
    if (end == std::string::npos) end = body.size();
    const std::string item = trim(std::string_view(body).substr(start, end - start));
    start = end + 1;
    const auto colon = item.find(':');
    if (colon == std::string::npos) bad(fmt::format("'{}' is not 'metric: value'", item));
    TargetSpec t;
    t.metric = trim(std::string_view(item).substr(0, colon));
    t.text = trim(std::string_view(item).substr(colon + 1));
    if (std::find(names.begin(), names.end(), t.metric) == names.end())
      bad(fmt::format("unknown cost '{}' (valid: {})", t.metric, fmt::join(names, ", ")));
    for (const auto& o : out)
      if (o.metric == t.metric) bad(fmt::format("'{}' is given twice", t.metric));
    if (!t.text.empty() && t.text.back() == '%') {
      Quantity q;
      std::string error;
      if (!parse_quantity(t.text.substr(0, t.text.size() - 1), q, error) || !q.plain)
        bad(fmt::format("'{}: {}' is not a percentage", t.metric, t.text));
      if (!(q.value > 0 && q.value < 100))
        bad(fmt::format("'{}: {}': a percentage of the seed must be above 0 and below 100",
                        t.metric, t.text));
      t.value = q.value / 100.0;
      t.fraction = true;
    } else {
      Quantity q;
      std::string error;
      if (!parse_quantity(t.text, q, error)) bad(fmt::format("'{}: {}': {}", t.metric, t.text, error));
      const Dimension want = metric_dimension(t.metric);
      if (!q.plain && q.dimension != want)
        bad(fmt::format("'{}: {}' is a {}, and {} is a {}", t.metric, t.text,
                        dimension_name(q.dimension), t.metric, dimension_name(want)));
      if (!(q.value > 0)) bad(fmt::format("'{}: {}' must be above 0", t.metric, t.text));
      t.value = q.value;
    }
    out.push_back(std::move(t));
    if (end == body.size()) break;
  }
  return out;
}

}  // namespace narrow::strategies
