// Least squares: Householder QR, the Lawson-Hanson non-negative solver and its weighted,
// column-scaled form that latency model fits use.
#include "core/least_squares.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "narrow/errors.hpp"
#include "narrow/latency_model.hpp"

namespace narrow {

namespace {

/// min ||A x - b|| over the columns `cols` of A (row-major, rows × stride) by Householder QR.
/// Columns whose pivot vanishes (dependent on earlier ones) get 0.
std::vector<double> least_squares(const std::vector<double>& a, std::size_t rows,
                                  std::size_t stride, const std::vector<std::size_t>& cols,
                                  const std::vector<double>& b) {
  const std::size_t k = cols.size();
  std::vector<double> r(rows * k), q = b;
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t c = 0; c < k; ++c) r[i * k + c] = a[i * stride + cols[c]];
  std::vector<double> norms(k, 0);
  for (std::size_t c = 0; c < k; ++c)
    for (std::size_t i = 0; i < rows; ++i) norms[c] += r[i * k + c] * r[i * k + c];
  for (std::size_t c = 0; c < k && c < rows; ++c) {
    double alpha = 0;
    for (std::size_t i = c; i < rows; ++i) alpha += r[i * k + c] * r[i * k + c];
    alpha = std::sqrt(alpha);
    if (alpha == 0) continue;
    if (r[c * k + c] > 0) alpha = -alpha;
    // v = x - alpha e1, kept in place below the diagonal.
    std::vector<double> v(rows - c);
    for (std::size_t i = c; i < rows; ++i) v[i - c] = r[i * k + c];
    v[0] -= alpha;
    double vv = 0;
    for (double x : v) vv += x * x;
    if (vv == 0) continue;
    for (std::size_t cc = c; cc < k; ++cc) {
      double d = 0;
      for (std::size_t i = c; i < rows; ++i) d += v[i - c] * r[i * k + cc];
      d = 2 * d / vv;
      for (std::size_t i = c; i < rows; ++i) r[i * k + cc] -= d * v[i - c];
    }
    double d = 0;
    for (std::size_t i = c; i < rows; ++i) d += v[i - c] * q[i];
    d = 2 * d / vv;
    for (std::size_t i = c; i < rows; ++i) q[i] -= d * v[i - c];
  }
  std::vector<double> x(k, 0);
  for (std::size_t c = std::min(k, rows); c-- > 0;) {
    const double pivot = r[c * k + c];
    if (std::abs(pivot) <= 1e-12 * std::sqrt(std::max(norms[c], 1e-300))) continue;
    double s = q[c];
    for (std::size_t cc = c + 1; cc < k; ++cc) s -= r[c * k + cc] * x[cc];
    x[c] = s / pivot;
  }
  return x;
}

}  // namespace

std::vector<double> nonnegative_least_squares(const std::vector<double>& a, std::size_t rows,
                                              std::size_t cols, const std::vector<double>& b) {
  if (a.size() != rows * cols || b.size() != rows)
    throw Error("internal: least squares with mismatched sizes");
  std::vector<double> x(cols, 0);
  std::vector<char> passive(cols, 0);
  auto gradient = [&] {
    std::vector<double> res = b, w(cols, 0);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t c = 0; c < cols; ++c) res[i] -= a[i * cols + c] * x[c];
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t c = 0; c < cols; ++c) w[c] += a[i * cols + c] * res[i];
    return w;
  };
  double scale = 0;
  for (double v : a) scale = std::max(scale, std::abs(v));
  for (double v : b) scale = std::max(scale, std::abs(v));
  const double tol = 1e-10 * std::max(1.0, scale * scale) * double(rows);
  for (std::size_t outer = 0; outer < 3 * cols + 3; ++outer) {
    const auto w = gradient();
    std::size_t best = cols;
    for (std::size_t c = 0; c < cols; ++c)
      if (!passive[c] && w[c] > tol && (best == cols || w[c] > w[best])) best = c;
    if (best == cols) break;
    passive[best] = 1;
    for (std::size_t inner = 0; inner < 3 * cols + 3; ++inner) {
      std::vector<std::size_t> set;
      for (std::size_t c = 0; c < cols; ++c)
        if (passive[c]) set.push_back(c);
      const auto s = least_squares(a, rows, cols, set, b);
      bool feasible = true;
      for (double v : s) feasible = feasible && v > 0;
      if (feasible) {
        std::fill(x.begin(), x.end(), 0.0);
        for (std::size_t k = 0; k < set.size(); ++k) x[set[k]] = s[k];
        break;
      }
      // Step from x toward s as far as stays feasible; the coefficients that reach zero
      // leave the passive set.
      double alpha = 1;
      for (std::size_t k = 0; k < set.size(); ++k)
        if (s[k] <= 0) alpha = std::min(alpha, x[set[k]] / (x[set[k]] - s[k]));
      for (std::size_t k = 0; k < set.size(); ++k) x[set[k]] += alpha * (s[k] - x[set[k]]);
      for (std::size_t k = 0; k < set.size(); ++k)
        if (x[set[k]] <= 1e-15) {
          x[set[k]] = 0;
          passive[set[k]] = 0;
        }
    }
  }
  return x;
}

std::vector<double> weighted_nnls(const std::vector<std::vector<double>>& x,
                                  const std::vector<double>& y, const std::vector<double>& w,
                                  std::size_t cols) {
  const std::size_t rows = y.size();
  std::vector<double> a(rows * cols), b(rows), scale(cols, 0);
  for (std::size_t i = 0; i < rows; ++i) {
    b[i] = w[i] * y[i];
    for (std::size_t c = 0; c < cols; ++c) {
      a[i * cols + c] = w[i] * x[i][c];
      scale[c] = std::max(scale[c], std::abs(a[i * cols + c]));
    }
  }
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t c = 0; c < cols; ++c)
      if (scale[c] > 0) a[i * cols + c] /= scale[c];
  auto z = nonnegative_least_squares(a, rows, cols, b);
  for (std::size_t c = 0; c < cols; ++c) z[c] = scale[c] > 0 ? z[c] / scale[c] : 0;
  return z;
}

}  // namespace narrow
