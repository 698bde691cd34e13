#pragma once
// The targets of the genetic law search: the metrics a law can aim at, and the sliding
// windows of a grid {1, 2, 5} x 10^k over a range of decades (Scheidegger et al. 2019, §4).
#include <string>
#include <string_view>
#include <vector>

namespace narrow::genetic_law {

/// The metrics a search can aim at: five analytic ones and the device's predicted latency
/// (seconds), in the order the `metric` parameter lists them.
const std::vector<std::string>& target_metrics();

/// One target interval (tau1, tau2) of a metric, in the metric's own unit (not log10).
struct Window {
  double low = 0, high = 0;
  std::string low_name, high_name;  // "1e3", "2e3"
  std::string name;                 // "1e3-2e3": letters, digits and '-', usable in law names
};

/// What a search aims at for `window`: the window shrunk on each side by `margin` (a fraction,
/// below 0.5) of its width in log10, in the metric's unit; the window itself for margin 0.
struct Aim {
  double low = 0, high = 0;
};
Aim aim_inside(const Window& window, double margin);

/// The grid value m x 10^k (m one of 1, 2, 5) as a name: "1e3", "5e-4".
std::string grid_value_name(int mantissa, int exponent);

/// The windows between consecutive values of the grid {1, 2, 5} x 10^k for k = first .. last-1,
/// followed by 10^last: 3 (last - first) windows. Throws InputError unless first < last.
std::vector<Window> window_grid(int first, int last);

}  // namespace narrow::genetic_law
