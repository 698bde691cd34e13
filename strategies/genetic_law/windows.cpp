#include "windows.hpp"

#include <cmath>

#include <fmt/format.h>

#include "narrow/errors.hpp"

namespace narrow::genetic_law {

Aim aim_inside(const Window& window, double margin) {
  if (margin == 0) return {window.low, window.high};
  const double lo = std::log10(window.low), hi = std::log10(window.high);
  const double shift = margin * (hi - lo);
  return {std::pow(10.0, lo + shift), std::pow(10.0, hi - shift)};
}

const std::vector<std::string>& target_metrics() {
  static const std::vector<std::string> names{"params",           "macs",
                                              "weight_bytes",     "activation_peak_bytes",
                                              "memory_eq6_bytes", "latency"};
  return names;
}

std::string grid_value_name(int mantissa, int exponent) {
  return fmt::format("{}e{}", mantissa, exponent);
}

std::vector<Window> window_grid(int first, int last) {
  if (first >= last)
    throw InputError(fmt::format(
        "decades [{}, {}]: the first decade must be below the last", first, last));
  struct Point {
    double value;
    std::string name;
  };
  std::vector<Point> grid;
  for (int k = first; k < last; ++k)
    for (int m : {1, 2, 5}) grid.push_back({m * std::pow(10.0, k), grid_value_name(m, k)});
  grid.push_back({std::pow(10.0, last), grid_value_name(1, last)});
  std::vector<Window> windows;
  for (std::size_t i = 0; i + 1 < grid.size(); ++i)
    windows.push_back({grid[i].value, grid[i + 1].value, grid[i].name, grid[i + 1].name,
                       fmt::format("{}-{}", grid[i].name, grid[i + 1].name)});
  return windows;
}

}  // namespace narrow::genetic_law
