#include "clustering.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include <fmt/format.h>
#include <Eigen/Eigenvalues>

#include "narrow/errors.hpp"
#include "narrow/random.hpp"

namespace narrow::spectral {

namespace {

/// Lloyd iterations of one k-means run at most; they usually settle within a few dozen.
constexpr int max_iterations = 300;

double uniform01(Rng& rng) {
  return double(rng() >> 11) * 0x1.0p-53;
}

/// Index of the centre nearest to `point` (the first on a tie) and its squared distance.
std::pair<int, double> nearest(const Eigen::MatrixXd& centres, const Eigen::RowVectorXd& point) {
  int best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (int c = 0; c < centres.rows(); ++c) {
    const double d = (centres.row(c) - point).squaredNorm();
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return {best, best_d};
}

/// k-means++ (Arthur and Vassilvitskii 2007): the first centre uniformly, each next one with
/// probability proportional to the squared distance to the nearest centre chosen so far.
/// When every point coincides with a centre, the next is the first point not chosen yet.
Eigen::MatrixXd plus_plus_start(const Eigen::MatrixXd& points, int k, Rng& rng) {
  const Eigen::Index n = points.rows();
  Eigen::MatrixXd centres(k, points.cols());
  std::vector<bool> chosen(std::size_t(n), false);
  std::size_t first = std::size_t(rng(std::uint64_t(n)));
  centres.row(0) = points.row(Eigen::Index(first));
  chosen[first] = true;
  std::vector<double> d2(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i)
    d2[std::size_t(i)] = (points.row(i) - centres.row(0)).squaredNorm();
  for (int c = 1; c < k; ++c) {
    double total = 0;
    for (double d : d2) total += d;
    std::size_t pick = 0;
    if (total > 0) {
      const double target = uniform01(rng) * total;
      double sum = 0;
      pick = std::size_t(n);
      for (std::size_t i = 0; i < d2.size(); ++i) {
        if (d2[i] <= 0) continue;
        sum += d2[i];
        pick = i;
        if (sum > target) break;
      }
    } else {
      while (pick < chosen.size() && chosen[pick]) ++pick;
      if (pick == chosen.size()) pick = 0;
    }
    chosen[pick] = true;
    centres.row(c) = points.row(Eigen::Index(pick));
    for (Eigen::Index i = 0; i < n; ++i)
      d2[std::size_t(i)] =
          std::min(d2[std::size_t(i)], (points.row(i) - centres.row(c)).squaredNorm());
  }
  return centres;
}

/// Lloyd's algorithm from `centres`. A cluster left empty takes the point farthest from its
/// centre among clusters of two or more points.
KMeans lloyd(const Eigen::MatrixXd& points, Eigen::MatrixXd centres) {
  const Eigen::Index n = points.rows();
  const int k = int(centres.rows());
  KMeans out;
  out.label.assign(std::size_t(n), -1);
  std::vector<double> dist(static_cast<std::size_t>(n));
  for (int iteration = 0; iteration < max_iterations; ++iteration) {
    bool changed = false;
    std::vector<int> count(std::size_t(k), 0);
    for (Eigen::Index i = 0; i < n; ++i) {
      auto [c, d] = nearest(centres, points.row(i));
      if (c != out.label[std::size_t(i)]) changed = true;
      out.label[std::size_t(i)] = c;
      dist[std::size_t(i)] = d;
      ++count[std::size_t(c)];
    }
    for (int c = 0; c < k; ++c) {
      if (count[std::size_t(c)] > 0) continue;
      std::size_t far = std::size_t(n);
      for (std::size_t i = 0; i < std::size_t(n); ++i)
        if (count[std::size_t(out.label[i])] > 1 && (far == std::size_t(n) || dist[i] > dist[far]))
          far = i;
      if (far == std::size_t(n)) break;  // fewer points than clusters: cannot happen here
      --count[std::size_t(out.label[far])];
      out.label[far] = c;
      dist[far] = 0;
      count[std::size_t(c)] = 1;
      changed = true;
    }
    if (!changed) break;
    centres.setZero();
    for (Eigen::Index i = 0; i < n; ++i) centres.row(out.label[std::size_t(i)]) += points.row(i);
    for (int c = 0; c < k; ++c)
      if (count[std::size_t(c)] > 0) centres.row(c) /= double(count[std::size_t(c)]);
  }
  out.inertia = 0;
  for (Eigen::Index i = 0; i < n; ++i)
    out.inertia += (points.row(i) - centres.row(out.label[std::size_t(i)])).squaredNorm();
  return out;
}

}  // namespace

std::vector<double> law_features(const LawPoint& law, const std::vector<Bounds>& bounds) {
  const std::size_t v = bounds.size();
  if (law.low.size() != v || law.high.size() != v)
    throw Error(fmt::format("a law has {} low and {} high limits, the space has {} variables",
                            law.low.size(), law.high.size(), v));
  std::vector<double> f(2 * v, 0.0);
  for (std::size_t x = 0; x < v; ++x) {
    const double span = double(bounds[x].max - bounds[x].min);
    if (span <= 0) continue;
    f[x] = double(law.low[x] - bounds[x].min) / span;
    f[v + x] = double(law.high[x] - bounds[x].min) / span;
  }
  return f;
}

namespace {
double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}
}  // namespace

double median_pairwise_distance(const std::vector<std::vector<double>>& points) {
  std::vector<double> d;
  for (std::size_t i = 0; i < points.size(); ++i)
    for (std::size_t j = i + 1; j < points.size(); ++j) d.push_back(distance(points[i], points[j]));
  if (d.empty()) return 0;
  const std::size_t mid = d.size() / 2;
  std::nth_element(d.begin(), d.begin() + std::ptrdiff_t(mid), d.end());
  const double upper = d[mid];
  if (d.size() % 2 == 1) return upper;
  const double lower = *std::max_element(d.begin(), d.begin() + std::ptrdiff_t(mid));
  return (lower + upper) / 2;
}

Eigen::MatrixXd gaussian_affinity(const std::vector<std::vector<double>>& points, double s) {
  if (!(s > 0)) throw Error(fmt::format("the kernel width must be positive, not {}", s));
  const auto n = Eigen::Index(points.size());
  Eigen::MatrixXd w = Eigen::MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = i + 1; j < n; ++j) {
      const double d = distance(points[std::size_t(i)], points[std::size_t(j)]);
      w(i, j) = w(j, i) = std::exp(-d * d / (2 * s * s));
    }
  return w;
}

Eigen::MatrixXd normalised_laplacian(const Eigen::MatrixXd& affinity) {
  const Eigen::Index n = affinity.rows();
  Eigen::VectorXd scale(n);  // D^-1/2, 0 for a point of degree 0
  for (Eigen::Index i = 0; i < n; ++i) {
    const double degree = affinity.row(i).sum();
    scale(i) = degree > 0 ? 1 / std::sqrt(degree) : 0;
  }
  Eigen::MatrixXd l = -(scale.asDiagonal() * affinity * scale.asDiagonal());
  for (Eigen::Index i = 0; i < n; ++i)
    if (scale(i) > 0) l(i, i) += 1;
  return l;
}

Embedding spectral_embedding(const Eigen::MatrixXd& laplacian, int k) {
  const Eigen::Index n = laplacian.rows();
  if (k < 1 || k > n)
    throw Error(fmt::format("cannot take {} eigenvectors of a {}x{} matrix", k, n, n));
  // Eigenvalues come in increasing order.
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(laplacian);
  if (solver.info() != Eigen::Success)
    throw Error("the eigen decomposition of the graph Laplacian did not converge");
  Embedding e;
  e.eigenvalues = solver.eigenvalues().head(k);
  e.rows = solver.eigenvectors().leftCols(k);
  for (Eigen::Index i = 0; i < n; ++i) {
    const double norm = e.rows.row(i).norm();
    if (norm > 0) e.rows.row(i) /= norm;
  }
  return e;
}

KMeans kmeans(const Eigen::MatrixXd& points, int k, int restarts, std::uint64_t seed) {
  if (k < 1 || k > points.rows())
    throw Error(fmt::format("cannot make {} clusters of {} points", k, points.rows()));
  if (restarts < 1) throw Error(fmt::format("k-means needs at least 1 restart, not {}", restarts));
  KMeans best;
  for (int r = 0; r < restarts; ++r) {
    Rng rng = stream_rng(seed, std::uint64_t(r));
    KMeans run = lloyd(points, plus_plus_start(points, k, rng));
    run.restart = r;
    if (r == 0 || run.inertia < best.inertia) best = std::move(run);
  }
  return best;
}

Clustering cluster_laws(const std::vector<LawPoint>& laws, const std::vector<Bounds>& bounds,
                        const Options& options) {
  if (options.k < 1) throw Error(fmt::format("k must be at least 1, not {}", options.k));
  if (options.bandwidth < 0 || !std::isfinite(options.bandwidth))
    throw Error(fmt::format("the bandwidth must be 0 or positive, not {}", options.bandwidth));
  Clustering out;
  out.cluster_of.assign(laws.size(), -1);

  // Distinct usable laws, in the order they first appear.
  std::map<std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>>, std::size_t> seen;
  std::vector<std::size_t> distinct_of(laws.size(), 0);
  std::vector<std::vector<double>> features;
  for (std::size_t i = 0; i < laws.size(); ++i) {
    std::vector<double> f = law_features(laws[i], bounds);  // checks every law, usable or not
    if (!std::isfinite(laws[i].cost)) continue;
    ++out.usable;
    auto [it, added] = seen.emplace(std::make_pair(laws[i].low, laws[i].high), features.size());
    if (added) features.push_back(std::move(f));
    distinct_of[i] = it->second;
  }
  out.distinct = features.size();
  if (out.usable == 0) {
    out.note = laws.empty() ? "no law to cluster" : "no usable law (every cost is infinite)";
    return out;
  }

  // Cluster of each distinct law.
  std::vector<int> label(features.size(), 0);
  int clusters = options.k;
  if (out.distinct <= std::size_t(options.k)) {
    clusters = int(out.distinct);
    for (std::size_t d = 0; d < label.size(); ++d) label[d] = int(d);
    if (out.distinct < std::size_t(options.k))
      out.note = fmt::format("only {} distinct usable law{}: {} cluster{} instead of {}",
                             out.distinct, out.distinct == 1 ? "" : "s", out.distinct,
                             out.distinct == 1 ? "" : "s", options.k);
  } else {
    out.bandwidth = options.bandwidth > 0 ? options.bandwidth : median_pairwise_distance(features);
    const Eigen::MatrixXd w = gaussian_affinity(features, out.bandwidth);
    for (Eigen::Index i = 0; i < w.rows(); ++i)
      if (w.row(i).sum() <= 0) ++out.isolated;
    const Embedding e = spectral_embedding(normalised_laplacian(w), options.k);
    out.eigenvalues = e.eigenvalues;
    label = kmeans(e.rows, options.k, std::max(options.restarts, 1), options.seed).label;
  }

  // Members of every cluster, best law, then clusters by best cost.
  std::vector<Cluster> found(static_cast<std::size_t>(clusters));
  for (std::size_t i = 0; i < laws.size(); ++i) {
    if (!std::isfinite(laws[i].cost)) continue;
    Cluster& c = found[std::size_t(label[distinct_of[i]])];
    if (c.members.empty() || laws[i].cost < c.best_cost) {
      c.best = i;
      c.best_cost = laws[i].cost;
    }
    c.members.push_back(i);
  }
  std::size_t empty = 0;
  for (Cluster& c : found) {
    if (c.members.empty())
      ++empty;
    else
      out.clusters.push_back(std::move(c));
  }
  if (empty > 0)
    out.note = fmt::format(
        "k-means left {} of {} clusters empty (laws that coincide in the "
        "spectral embedding): {} clusters",
        empty, clusters, out.clusters.size());
  std::stable_sort(
      out.clusters.begin(), out.clusters.end(), [](const Cluster& a, const Cluster& b) {
        return a.best_cost < b.best_cost || (a.best_cost == b.best_cost && a.best < b.best);
      });
  for (std::size_t c = 0; c < out.clusters.size(); ++c)
    for (std::size_t i : out.clusters[c].members) out.cluster_of[i] = int(c);
  return out;
}

}  // namespace narrow::spectral
