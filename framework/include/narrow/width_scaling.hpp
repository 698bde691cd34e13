#pragma once
// Width scaling: a model shrunk the way people shrink one by hand, every channel width
// multiplied by one factor, done on the graph so that it works for the architectures of every
// space without knowing its variables. See docs/training.md, "Reference models at a budget".
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "narrow/architecture.hpp"
#include "narrow/export.hpp"

namespace narrow {

/// The architecture with every width multiplied by `factor` (> 0) and rounded. The widths are
/// the output channels of each conv2d and the units of each linear layer; everything that
/// reads them (input channels, batch norms, in_features) follows through shape inference.
///
/// The rules, which keep every graph valid:
/// - Widths that must stay equal form one group: the inputs of an `add` (a residual
///   connection ties the block's output to its input). A group's new width is
///   round(width * factor) (halves up), at least 1, so equal widths stay equal.
/// - The widths the output depends on keep their size: the classifier keeps `classes` outputs.
/// - A depthwise convolution (groups equal to its input channels) is not a width of its own:
///   it follows its input, groups = the new input channels, out_channels = the same multiple
///   of them as before.
/// - Any other grouped convolution (groups g > 1) keeps g: the widths it reads and its own
///   output width are rounded to the nearest multiple of g instead (at least g; for a width
///   that enters its input k times, as through a flatten, of g / gcd(g, k)). A width that was
///   not such a multiple before, or a sum of widths with a fixed part that g does not divide,
///   keeps its size.
/// - When an add joins widths that cannot be tied this way (a concatenation against a single
///   width, a width against the network input), those widths keep their size.
/// Factor 1 gives the architecture itself (the same hash). The result is finalized; `a` is
/// finalized on a copy when it is not. Throws InputError for a factor that is not > 0.
NARROW_API Architecture scale_widths(const Architecture& a, double factor);

/// One factor for each distinct width assignment that factors in (0, 1] give, ascending: the
/// first gives the smallest widths, the last is 1 (the architecture itself). Every factor of
/// the list lies inside the range of factors that give its widths, away from its ends.
NARROW_API std::vector<double> distinct_width_factors(const Architecture& a);

/// A model shrunk to a budget by shrink_to_budget.
struct NARROW_API ShrunkModel {
  bool fits = false;          // false: even the smallest widths are over the budget
  Architecture architecture;  // finalized: the widest that fits, or the smallest when !fits
  double factor = 0;          // the factor that gives it (one of distinct_width_factors)
  std::int64_t value = 0;     // the metric of `architecture`
  /// A factor that gives the next wider widths, which are over the budget; none when the
  /// unshrunk model fits.
  std::optional<double> next_factor;
};

/// The widest width scaling of `a` whose `metric` (a name of narrow/metrics.hpp; weight_bytes
/// counts float32 weights) is at most `budget`. "Widest" means the largest factor in (0, 1],
/// where factors that give the same widths count as one: bisection on the ordered distinct
/// width assignments (distinct_width_factors), then the wider neighbours are checked too, so
/// that the answer is the last fitting assignment before the first one that does not fit.
/// Throws InputError for an unknown metric.
NARROW_API ShrunkModel shrink_to_budget(const Architecture& a, const std::string& metric,
                                        double budget);

}  // namespace narrow
