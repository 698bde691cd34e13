#pragma once
// Pareto fronts and format choices over precision results (no LibTorch): what the precision
// stage and `narrow precision` report.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "narrow/export.hpp"
#include "narrow/training.hpp"

namespace narrow {

/// One model (by architecture hash) evaluated in one format; format "float32" is the model's
/// reference evaluation.
struct NARROW_API PrecisionPoint {
  std::string model;
  PrecisionResult result;
};

/// A point of a trade-off: a cost to make small (bytes, MACs, seconds...) and an accuracy to
/// make large.
struct NARROW_API TradeOff {
  double cost = 0;
  double accuracy = 0;
};

/// Indices of the Pareto-optimal points: a point is dominated when another has a cost at most
/// as large and an accuracy at least as large, one of them strictly. Ordered by cost, smallest
/// first (and so by accuracy, which rises along the front). Of several equal points (same cost,
/// same accuracy) only the first in `points` is kept; a caller that wants another one kept
/// orders its points so. Empty for no points; the one point for one.
NARROW_API std::vector<std::size_t> pareto_indices(const std::vector<TradeOff>& points);

/// Indices of the Pareto-optimal points among `points[i]` for i in `among` (all points when
/// empty), with weight bytes as the cost: pareto_indices over them. Ordered by weight bytes,
/// smallest first; of points with equal bytes and accuracy the first in `among` is kept.
NARROW_API std::vector<std::size_t> pareto_front(const std::vector<PrecisionPoint>& points,
                                                 const std::vector<std::size_t>& among = {});

/// Per model: the index of its format with the smallest weight bytes whose accuracy is within
/// `max_drop` (a fraction) of its float32 accuracy; ties go to the more accurate, then to the
/// earlier point. Models without a float32 point, or with no format within the drop, are
/// absent.
NARROW_API std::map<std::string, std::size_t> best_formats(
    const std::vector<PrecisionPoint>& points, double max_drop);

/// The format of `bits` bits with the highest mean accuracy over the models that were
/// evaluated in it (the paper's "best choice for types that are 8 bits long"); ties go to the
/// name that sorts first. Empty when no format has that width.
NARROW_API std::optional<std::string> best_format_of_width(
    const std::vector<PrecisionPoint>& points, int bits);

}  // namespace narrow
