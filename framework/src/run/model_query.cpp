#include "run/model_query.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/errors.hpp"
#include "narrow/units.hpp"

namespace narrow {

MetricBound parse_bound(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw InputError(
        fmt::format("--max '{}' must be METRIC=VALUE, e.g. weight_bytes=16KiB "
                    "(metrics: {})",
                    text, fmt::join(table_metrics(), ", ")));
  MetricBound b{text.substr(0, eq), 0, text.substr(eq + 1)};
  if (!is_table_metric(b.metric))
    throw InputError(fmt::format("--max '{}': unknown metric '{}' (valid: {})", text, b.metric,
                                 fmt::join(table_metrics(), ", ")));
  Quantity q;
  std::string error;
  if (!parse_quantity(b.text, q, error))
    throw InputError(fmt::format("--max '{}': {}", text, error));
  const Dimension want = metric_dimension(b.metric);
  if (!q.plain && q.dimension != want)
    throw InputError(fmt::format("--max '{}': '{}' is a {}, but '{}' is a {} (write e.g. {})", text,
                                 b.metric, dimension_name(want), b.text,
                                 dimension_name(q.dimension),
                                 want == Dimension::bytes     ? "16KiB"
                                 : want == Dimension::seconds ? "2ms"
                                                              : "250k"));
  if (q.value < 0) throw InputError(fmt::format("--max '{}': a bound cannot be negative", text));
  b.max = q.value;
  return b;
}

QueryAnswer query_best(const ModelTable& table, const std::vector<std::size_t>& among,
                       const std::vector<MetricBound>& bounds, double min_accuracy, Split split) {
  for (const auto& b : bounds) require_metric(table, among, b.metric);
  QueryAnswer answer;
  answer.candidates = among.size();
  for (std::size_t i : among) {
    const ModelRow& row = table.rows[i];
    const auto accuracy = accuracy_of(row, split);
    if (!accuracy) {
      ++answer.without_accuracy;
      continue;
    }
    bool meets = *accuracy >= min_accuracy;
    for (const auto& b : bounds) {
      const auto v = metric_value(row, b.metric);
      if (!v && b.metric == "latency") {
        ++answer.without_latency;
        meets = false;
        break;
      }
      meets = meets && v && *v <= b.max;
    }
    if (!meets) continue;
    answer.meeting.push_back(i);
    if (!answer.best) {
      answer.best = i;
      continue;
    }
    const ModelRow& best = table.rows[*answer.best];
    const double best_accuracy = *accuracy_of(best, split);
    if (*accuracy > best_accuracy || (*accuracy == best_accuracy && tie_order(row, best)))
      answer.best = i;
  }
  return answer;
}

}  // namespace narrow
