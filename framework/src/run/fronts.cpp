#include "run/fronts.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "narrow/errors.hpp"
#include "narrow/pareto.hpp"

namespace narrow {

const std::vector<std::string>& table_metrics() {
  static const std::vector<std::string> names{
      "weight_bytes",          "params",           "macs",   "flops",
      "activation_peak_bytes", "memory_eq6_bytes", "latency"};
  return names;
}

bool is_table_metric(std::string_view metric) {
  const auto& names = table_metrics();
  return std::find(names.begin(), names.end(), metric) != names.end();
}

std::optional<double> metric_value(const ModelRow& row, std::string_view metric) {
  if (!is_table_metric(metric))
    throw InputError(
        fmt::format("unknown metric '{}' (valid: {})", metric, fmt::join(table_metrics(), ", ")));
  if (metric == "latency") return row.latency;
  if (metric == "weight_bytes") return double(row.weight_bytes);
  return double(row.metrics.get(metric));
}

std::string_view split_name(Split s) {
  return s == Split::validation ? "validation" : "test";
}

std::optional<double> accuracy_of(const ModelRow& row, Split split) {
  return split == Split::validation ? row.val_accuracy : row.test_accuracy;
}

bool tie_order(const ModelRow& a, const ModelRow& b) {
  return std::tie(a.weight_bytes, a.architecture_hash, a.training_key, a.format, a.rounding) <
         std::tie(b.weight_bytes, b.architecture_hash, b.training_key, b.format, b.rounding);
}

const std::vector<std::string>& format_families() {
  static const std::vector<std::string> families{"float32", "16-bit", "8-bit", "below 8 bits"};
  return families;
}

std::string format_family(int bits) {
  return format_families()[bits >= 32 ? 0 : bits > 8 ? 1 : bits == 8 ? 2 : 3];
}

int family_rank(const std::string& family) {
  const auto& f = format_families();
  return int(std::find(f.begin(), f.end() - 1, family) - f.begin());
}

std::vector<std::size_t> rows_of_format(const ModelTable& table, const std::string& format) {
  // "float32" is the models as trained, not the family (a 32-bit format a precision stage
  // evaluated is a format of its own name).
  const auto& families = format_families();
  const bool family = std::find(families.begin() + 1, families.end(), format) != families.end();
  std::vector<std::size_t> rows;
  std::set<std::string> names;
  for (std::size_t i = 0; i < table.rows.size(); ++i) {
    const ModelRow& row = table.rows[i];
    names.insert(row.format);
    if (format == "any" || row.format == format ||
        (family && row.format != "float32" && format_family(row.bits) == format))
      rows.push_back(i);
  }
  if (rows.empty() && format != "any" && format != "float32")
    throw InputError(fmt::format(
        "--format '{}': no stored model was evaluated in that {} (formats of this store: {}; "
        "or a family: {}; or any)",
        format, family ? "family" : "format",
        names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", ")),
        fmt::join(families.begin() + 1, families.end(), ", ")));
  return rows;
}

void require_metric(const ModelTable& table, const std::vector<std::size_t>& among,
                    std::string_view metric) {
  if (!is_table_metric(metric)) (void)metric_value(ModelRow{}, metric);  // the InputError
  if (metric != "latency" || among.empty()) return;
  for (std::size_t i : among)
    if (table.rows[i].latency) return;
  std::string why;
  if (table.device.empty())
    why = "its experiment names no device";
  else if (!table.device_problem.empty())
    why =
        fmt::format("its device '{}' could not be rebuilt: {}", table.device, table.device_problem);
  else
    why = fmt::format("its device '{}' does not predict latency", table.device);
  throw InputError(
      fmt::format("latency: the store holds no latency measurement of these "
                  "models and {} (a latency stage measures; an analytic or "
                  "calibrated device predicts)",
                  why));
}

std::vector<std::size_t> model_front(const ModelTable& table, const std::vector<std::size_t>& among,
                                     std::string_view metric, Split split) {
  std::vector<std::size_t> rows;
  for (std::size_t i : among)
    if (metric_value(table.rows[i], metric) && accuracy_of(table.rows[i], split)) rows.push_back(i);
  // pareto_indices keeps the first of equal points: put them in tie order first.
  std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
    return tie_order(table.rows[a], table.rows[b]);
  });
  std::vector<TradeOff> points;
  points.reserve(rows.size());
  for (std::size_t i : rows)
    points.push_back(
        TradeOff{*metric_value(table.rows[i], metric), *accuracy_of(table.rows[i], split)});
  std::vector<std::size_t> front = pareto_indices(points);
  for (auto& i : front) i = rows[i];
  return front;
}

}  // namespace narrow
