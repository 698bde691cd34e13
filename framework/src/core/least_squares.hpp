#pragma once
// Internal: the weighted non-negative least squares that latency model fits are made of
// (nonnegative_least_squares itself is in narrow/latency_model.hpp).
#include <cstddef>
#include <vector>

namespace narrow {

/// min Σ_i (w_i (x_i · c - y_i))² over c >= 0, with every column scaled to a largest value of
/// 1 first (conditioning); columns that are zero throughout get coefficient 0.
std::vector<double> weighted_nnls(const std::vector<std::vector<double>>& x,
                                  const std::vector<double>& y, const std::vector<double>& w,
                                  std::size_t cols);

}  // namespace narrow
