#pragma once
// The constraint search over a model table (Scheidegger et al. 2019, section 4): the most
// accurate stored model whose metrics meet every bound. What `narrow query` answers.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "narrow/export.hpp"
#include "run/fronts.hpp"
#include "run/model_table.hpp"

namespace narrow {

/// An upper bound on a metric of the table (inclusive), as `--max METRIC=VALUE` writes it.
struct NARROW_API MetricBound {
  std::string metric;  // one of table_metrics()
  double max = 0;      // in the metric's base unit (bytes, items, seconds)
  std::string text;    // the value as written, e.g. "16KiB"
};

/// Parses "METRIC=VALUE": the metric one of table_metrics(), the value a quantity
/// (parse_quantity: 16KiB, 250k, 2ms, or a plain number) of the metric's dimension.
/// InputError naming what is wrong and what is allowed.
NARROW_API MetricBound parse_bound(const std::string& text);

/// What a query found among the rows it was given.
struct NARROW_API QueryAnswer {
  std::optional<std::size_t> best;   // index into table.rows; none when no row qualifies
  std::size_t candidates = 0;        // rows of the format asked for
  std::vector<std::size_t> meeting;  // rows meeting every bound and the accuracy floor
  std::size_t without_accuracy = 0;  // rows left out: no accuracy on the selection split
  std::size_t without_latency = 0;   // rows left out by a latency bound: no latency known
};

/// The rows of `among` that meet every bound and have an accuracy of `split` at least
/// `min_accuracy`, and the best of them: the highest accuracy of `split`, ties to tie_order
/// (fewer weight bytes, then the hash...). A row without the value a bound needs (a latency) does
/// not meet it. InputError (require_metric) for a latency bound when no row has a latency.
NARROW_API QueryAnswer query_best(const ModelTable& table, const std::vector<std::size_t>& among,
                                  const std::vector<MetricBound>& bounds, double min_accuracy,
                                  Split split);

}  // namespace narrow
