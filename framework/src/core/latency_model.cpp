// The latency model: its fits on whole networks and on layer timings, and its prediction.
#include <cmath>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/least_squares.hpp"
#include "narrow/errors.hpp"
#include "narrow/latency_model.hpp"

namespace narrow {

namespace {

void check_latency(double y, std::size_t i) {
  if (!(y > 0) || !std::isfinite(y))
    throw InputError(fmt::format("measured latency {} of sample {} is not positive", y, i));
}

}  // namespace

LatencyModel LatencyModel::fit(const std::vector<std::string>& features,
                               const std::vector<std::vector<double>>& x,
                               const std::vector<double>& y) {
  check_latency_features(features);
  const std::size_t rows = y.size(), cols = features.size();
  if (x.size() != rows) throw Error("internal: feature rows and latencies differ in number");
  if (rows < cols)
    throw InputError(fmt::format("fitting {} features needs at least {} measurements, not {}",
                                 cols, cols, rows));
  std::vector<double> w(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    check_latency(y[i], i);
    if (x[i].size() != cols) throw Error("internal: a feature row has the wrong length");
    for (std::size_t c = 0; c < cols; ++c)
      if (!std::isfinite(x[i][c]))
        throw InputError(fmt::format("feature '{}' of sample {} is not finite", features[c], i));
    w[i] = 1 / y[i];  // relative error
  }
  LatencyModel m;
  m.features = features;
  m.coefficients = weighted_nnls(x, y, w, cols);
  return m;
}

LatencyModel LatencyModel::fit_layers(const std::vector<std::vector<LayerFeatures>>& layers,
                                      const std::vector<std::vector<double>>& layer_seconds,
                                      const std::vector<double>& y,
                                      std::vector<std::string>* unseen) {
  const std::size_t n = y.size();
  if (layers.size() != n || layer_seconds.size() != n)
    throw Error("internal: layer features, layer times and latencies differ in number");
  const auto& kinds = layer_kinds();
  // Stage 1: each kind's features against its layers' times.
  struct Rows {
    std::vector<std::vector<double>> x;
    std::vector<double> t, w;
  };
  std::map<std::string, Rows> by_kind;
  for (std::size_t i = 0; i < n; ++i) {
    check_latency(y[i], i);
    if (layers[i].size() != layer_seconds[i].size())
      throw InputError(fmt::format("sample {} has {} layers but {} layer times", i,
                                   layers[i].size(), layer_seconds[i].size()));
    for (std::size_t l = 0; l < layers[i].size(); ++l) {
      const double t = layer_seconds[i][l];
      if (!(t >= 0) || !std::isfinite(t))
        throw InputError(fmt::format("layer {} of sample {} has time {}", l, i, t));
      auto& r = by_kind[layers[i][l].kind];
      r.x.push_back(layers[i][l].values);
      r.t.push_back(t);
      r.w.push_back(1 / y[i]);
    }
  }
  // Each fitted kind's law and its column in stage 2.
  struct Law {
    std::size_t column = 0;
    std::vector<double> c;
  };
  std::map<std::string, Law> stage1;
  for (const auto& [kind, features] : kinds) {
    auto it = by_kind.find(kind);
    if (it == by_kind.end()) {
      if (unseen) unseen->push_back(kind);
      continue;
    }
    Rows& r = it->second;
    std::vector<double> c;
    if (r.t.size() >= features.size()) {
      c = weighted_nnls(r.x, r.t, r.w, features.size());
    } else {
      for (auto& row : r.x) row.resize(1);  // "layers": the mean time per layer
      c = weighted_nnls(r.x, r.t, r.w, 1);
      c.resize(features.size(), 0.0);
    }
    const std::size_t column = stage1.size();
    stage1.emplace(kind, Law{column, std::move(c)});
  }
  // Stage 2: the whole networks' latencies from each kind's predicted time and a constant.
  const std::size_t cols = stage1.size() + 1;
  if (n < cols)
    throw InputError(fmt::format("a layered fit of {} layer kinds needs at least {} measured "
                                 "networks, not {}",
                                 stage1.size(), cols, n));
  std::vector<std::vector<double>> x(n, std::vector<double>(cols, 0.0));
  std::vector<double> w(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (const auto& layer : layers[i]) {
      const Law& law = stage1.at(layer.kind);
      for (std::size_t f = 0; f < law.c.size(); ++f)
        x[i][law.column] += law.c[f] * layer.values[f];
    }
    x[i][cols - 1] = 1;
    w[i] = 1 / y[i];
  }
  const auto scale = weighted_nnls(x, y, w, cols);
  LatencyModel m;
  m.features = layered_latency_features();
  m.coefficients.assign(m.features.size(), 0.0);
  m.coefficients[0] = scale[cols - 1];
  std::size_t at = 1;
  for (const auto& [kind, features] : kinds) {
    const auto it = stage1.find(kind);
    for (std::size_t f = 0; f < features.size(); ++f, ++at)
      if (it != stage1.end()) m.coefficients[at] = scale[it->second.column] * it->second.c[f];
  }
  return m;
}

double LatencyModel::predict(const std::vector<double>& v) const {
  if (v.size() != coefficients.size()) throw Error("internal: feature count mismatch");
  double s = 0;
  for (std::size_t c = 0; c < v.size(); ++c) s += coefficients[c] * v[c];
  return s;
}

double LatencyModel::predict(const Architecture& arch) const {
  return predict(latency_features(arch, features));
}

}  // namespace narrow
