#pragma once
// Pareto fronts of a model table: accuracy against any metric (weight bytes in each format,
// MACs, activation peak, latency...), over the rows of one format or of all. The front itself
// is narrow::pareto_indices (narrow/pareto.hpp); this file says which rows, which values and
// which row is kept among equal ones.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "narrow/export.hpp"
#include "run/model_table.hpp"

namespace narrow {

/// The metrics of a row that a query bounds and a front is drawn against, in print order:
/// weight_bytes (the format's), params, macs, flops, activation_peak_bytes, memory_eq6_bytes,
/// latency.
NARROW_API const std::vector<std::string>& table_metrics();
NARROW_API bool is_table_metric(std::string_view metric);
/// The value of `metric` for `row`; nothing for a latency the row lacks. InputError for a
/// metric that is not one of table_metrics().
NARROW_API std::optional<double> metric_value(const ModelRow& row, std::string_view metric);

/// The accuracy that selects (validation) or that is reported (test).
enum class Split { validation, test };
NARROW_API std::string_view split_name(Split s);
NARROW_API std::optional<double> accuracy_of(const ModelRow& row, Split split);

/// The order of rows wherever one of several equal rows must be picked: fewer weight bytes,
/// then the architecture hash, the training key, the format and the rounding.
NARROW_API bool tie_order(const ModelRow& a, const ModelRow& b);

/// The number-format families in the order of family_rank: "float32" (32 bits and more),
/// "16-bit" (9 to 31 bits), "8-bit" and "below 8 bits".
NARROW_API const std::vector<std::string>& format_families();
/// The family of a bit width, and the rank of a family (an unknown name ranks last).
NARROW_API std::string format_family(int bits);
NARROW_API int family_rank(const std::string& family);

/// Indices of the rows of `format`: "float32" (the models as trained), "any" (every row), a
/// family of formats ("16-bit", "8-bit", "below 8 bits": every format of that width) or a
/// format's name. InputError naming the formats of the table when no row has it.
NARROW_API std::vector<std::size_t> rows_of_format(const ModelTable& table,
                                                   const std::string& format);

/// InputError when `metric` is latency and none of the rows `among` has one, saying why (no
/// measurement stored, and the experiment's device does not predict or could not be rebuilt).
NARROW_API void require_metric(const ModelTable& table, const std::vector<std::size_t>& among,
                               std::string_view metric);

/// The Pareto front of the rows `among` (indices into table.rows): `metric` as the cost,
/// the accuracy of `split` as the accuracy; rows without either value are left out. Ordered
/// by the metric, smallest first; of rows with equal metric and accuracy, the first in
/// tie_order is kept.
NARROW_API std::vector<std::size_t> model_front(const ModelTable& table,
                                                const std::vector<std::size_t>& among,
                                                std::string_view metric, Split split);

}  // namespace narrow
