#pragma once
// Spectral clustering of sampling laws (Ng, Jordan and Weiss 2002): the laws of a search's
// final population are grouped into k clusters of similar laws, and the best law of each
// cluster is kept, which gives k laws that differ from each other (Scheidegger et al. 2019, §4).
//
// Steps, each a function of its own so that tests can check it:
//  1. law_features: a law is the vector of its low and high limits, each normalised by the
//     variable's absolute bounds to [0, 1].
//  2. gaussian_affinity: W_ij = exp(-d_ij^2 / (2 s^2)) with d the Euclidean distance between
//     feature vectors and s the bandwidth (the median distance between distinct laws unless
//     given); W_ii = 0.
//  3. normalised_laplacian: L = I - D^-1/2 W D^-1/2 (D the degrees); a law without any
//     neighbour (degree 0) gets a zero row and column, so that it is a component of its own.
//  4. spectral_embedding: the eigenvectors of the k smallest eigenvalues of L as columns,
//     each row then scaled to unit length.
//  5. kmeans: Lloyd's algorithm from a k-means++ start drawn from a seeded stream, restarted
//     several times, keeping the lowest inertia.
// cluster_laws runs them all on the usable (finite cost) distinct laws.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Dense>

namespace narrow::spectral {

/// A variable's absolute bounds (indices for choices).
struct Bounds {
  std::int64_t min = 0, max = 0;
};

/// One law of a population: its limits by variable position and its cost (+inf or NaN: the
/// law is unusable, it joins no cluster).
struct LawPoint {
  std::vector<std::int64_t> low, high;
  double cost = std::numeric_limits<double>::infinity();
};

/// The feature vector of a law: (low_x - min_x) / (max_x - min_x) for every variable, then the
/// same of high_x; a variable with min_x == max_x gives 0. Throws narrow::Error when the law
/// does not have one limit per variable.
std::vector<double> law_features(const LawPoint& law, const std::vector<Bounds>& bounds);

/// Median of the Euclidean distances between every pair of points (0 with fewer than 2).
double median_pairwise_distance(const std::vector<std::vector<double>>& points);

/// The Gaussian affinity matrix of points with bandwidth s > 0, zero diagonal.
Eigen::MatrixXd gaussian_affinity(const std::vector<std::vector<double>>& points, double s);

/// The symmetric normalised Laplacian I - D^-1/2 W D^-1/2 of a symmetric non-negative affinity
/// matrix; rows and columns of points of degree 0 are zero.
Eigen::MatrixXd normalised_laplacian(const Eigen::MatrixXd& affinity);

/// The eigenvectors of the k smallest eigenvalues of a symmetric matrix, as the columns of an
/// n x k matrix whose rows are then normalised to unit length (a zero row stays zero), and
/// those k eigenvalues in increasing order.
struct Embedding {
  Eigen::MatrixXd rows;
  Eigen::VectorXd eigenvalues;
};
Embedding spectral_embedding(const Eigen::MatrixXd& laplacian, int k);

/// k-means of the rows of `points`: label of each row (0..k-1) and the sum of squared distances
/// to the centres. Deterministic for a given seed.
struct KMeans {
  std::vector<int> label;
  double inertia = 0;
  int restart = 0;  // the restart that gave the result
};
KMeans kmeans(const Eigen::MatrixXd& points, int k, int restarts, std::uint64_t seed);

struct Options {
  int k = 10;              // clusters wanted, >= 1
  double bandwidth = 0;    // kernel width in feature units; 0: median pairwise distance
  int restarts = 10;       // k-means restarts, >= 1
  std::uint64_t seed = 0;  // k-means++ starts
};

/// One cluster: its laws (indices into the input), the best of them and its cost.
struct Cluster {
  std::vector<std::size_t> members;  // in increasing order
  std::size_t best = 0;              // lowest cost, the first such law on a tie
  double best_cost = 0;
};

struct Clustering {
  /// Cluster of each input law, by position; -1 for unusable laws.
  std::vector<int> cluster_of;
  /// The clusters, ordered by their best cost (clusters[0] holds the best law); ties by the
  /// index of the best law.
  std::vector<Cluster> clusters;
  std::size_t usable = 0;    // laws with a finite cost
  std::size_t distinct = 0;  // distinct usable laws (what is clustered)
  double bandwidth = 0;      // the kernel width used (0 when no kernel was needed)
  std::size_t isolated = 0;  // distinct laws with no neighbour under the kernel
  Eigen::VectorXd eigenvalues;
  /// Why there are fewer clusters than asked, or empty.
  std::string note;
};

/// Spectral clustering of laws into at most options.k clusters: only usable laws take part,
/// identical laws count once in the kernel and share a cluster; with fewer distinct laws than
/// k each distinct law is a cluster. Throws narrow::Error on bad options or a law that does not
/// fit `bounds`.
Clustering cluster_laws(const std::vector<LawPoint>& laws, const std::vector<Bounds>& bounds,
                        const Options& options);

}  // namespace narrow::spectral
