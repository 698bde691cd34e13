// The spectral clustering of sampling laws (strategies/spectral/clustering.hpp): each step on
// inputs small enough to work out by hand, and the whole on groups of laws whose clusters are
// known.
#define BOOST_TEST_MODULE spectral
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <set>

#include "clustering.hpp"
#include "narrow/errors.hpp"
#include "narrow/random.hpp"
#include "population.hpp"

using namespace narrow::spectral;

namespace {

const std::vector<Bounds> bounds{{1, 64}, {1, 10}, {0, 4}, {3, 3}};

/// `count` laws around (low, high), each limit moved by at most `jitter`, inside the bounds,
/// with costs drawn in [cost, cost + 1).
std::vector<LawPoint> group(const std::vector<std::int64_t>& low,
                            const std::vector<std::int64_t>& high, int count, int jitter,
                            double cost, std::uint64_t seed) {
  narrow::Rng rng = narrow::stream_rng(seed, 0);
  std::vector<LawPoint> laws;
  for (int i = 0; i < count; ++i) {
    LawPoint p;
    for (std::size_t x = 0; x < bounds.size(); ++x) {
      auto move = [&](std::int64_t v) {
        const auto step = std::int64_t(rng(std::uint64_t(2 * jitter + 1))) - jitter;
        return std::clamp(v + step, bounds[x].min, bounds[x].max);
      };
      std::int64_t l = move(low[x]), h = move(high[x]);
      if (l > h) std::swap(l, h);
      p.low.push_back(l);
      p.high.push_back(h);
    }
    p.cost = cost + double(rng() % 1000) / 1000.0;
    laws.push_back(p);
  }
  return laws;
}

std::vector<LawPoint> concat(std::vector<std::vector<LawPoint>> groups) {
  std::vector<LawPoint> all;
  for (auto& g : groups) all.insert(all.end(), g.begin(), g.end());
  return all;
}

/// Checks that the clusters are exactly the groups of the given sizes, in input order.
void expect_groups(const Clustering& c, const std::vector<std::size_t>& sizes) {
  BOOST_REQUIRE_EQUAL(c.clusters.size(), sizes.size());
  std::size_t start = 0;
  std::set<int> used;
  for (std::size_t size : sizes) {
    const int label = c.cluster_of[start];
    BOOST_TEST(label >= 0);
    BOOST_TEST(used.insert(label).second, "two groups share cluster " << label);
    for (std::size_t i = start; i < start + size; ++i)
      BOOST_TEST(c.cluster_of[i] == label,
                 "law " << i << " is in cluster " << c.cluster_of[i] << ", its group in " << label);
    start += size;
  }
}

/// The best law of each cluster, clusters in order of their best cost.
void expect_best(const std::vector<LawPoint>& laws, const Clustering& c) {
  double previous = -std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < c.clusters.size(); ++k) {
    const Cluster& cl = c.clusters[k];
    BOOST_TEST(cl.best_cost >= previous);
    previous = cl.best_cost;
    BOOST_TEST(c.cluster_of[cl.best] == int(k));
    BOOST_TEST(laws[cl.best].cost == cl.best_cost);
    for (std::size_t i : cl.members) {
      BOOST_TEST(c.cluster_of[i] == int(k));
      BOOST_TEST(laws[i].cost >= cl.best_cost);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(features_are_limits_normalised_by_the_bounds) {
  const LawPoint law{{1, 10, 2, 3}, {64, 10, 4, 3}, 0.5};
  const std::vector<double> f = law_features(law, bounds);
  const std::vector<double> want{0, 1, 0.5, 0, 1, 1, 1, 0};  // a fixed variable gives 0
  BOOST_TEST(f == want, boost::test_tools::per_element());
  BOOST_CHECK_THROW(law_features(LawPoint{{1}, {2}, 0}, bounds), narrow::Error);
}

BOOST_AUTO_TEST_CASE(median_of_pairwise_distances) {
  // Points 0, 1, 3 on a line: distances 1, 3, 2.
  BOOST_TEST(median_pairwise_distance({{0.0}, {1.0}, {3.0}}) == 2.0);
  // 0, 1, 3, 7: distances 1, 3, 7, 2, 6, 4; the median of an even count is the mean of two.
  BOOST_TEST(median_pairwise_distance({{0.0}, {1.0}, {3.0}, {7.0}}) == 3.5);
  BOOST_TEST(median_pairwise_distance({{1.0}}) == 0.0);
}

BOOST_AUTO_TEST_CASE(gaussian_kernel) {
  const Eigen::MatrixXd w = gaussian_affinity({{0.0, 0.0}, {3.0, 4.0}}, 5.0);
  BOOST_TEST(w(0, 0) == 0.0);
  BOOST_TEST(w(1, 1) == 0.0);
  BOOST_TEST(std::abs(w(0, 1) - std::exp(-0.5)) < 1e-15);  // d = s
  BOOST_TEST(w(1, 0) == w(0, 1));
  BOOST_CHECK_THROW(gaussian_affinity({{0.0}, {1.0}}, 0.0), narrow::Error);
}

BOOST_AUTO_TEST_CASE(laplacian_of_a_path_of_three) {
  // Path 0 - 1 - 2 with unit weights: degrees 1, 2, 1. L = I - D^-1/2 W D^-1/2 has
  // off-diagonal entries -1/sqrt(2) on the edges and eigenvalues 0, 1, 2; the eigenvector of 0
  // is D^1/2 * 1 = (1, sqrt 2, 1) / 2, of 1 it is (1, 0, -1) / sqrt 2.
  Eigen::MatrixXd w(3, 3);
  w << 0, 1, 0, 1, 0, 1, 0, 1, 0;
  const Eigen::MatrixXd l = normalised_laplacian(w);
  const double r = 1 / std::sqrt(2.0);
  Eigen::MatrixXd want(3, 3);
  want << 1, -r, 0, -r, 1, -r, 0, -r, 1;
  BOOST_TEST((l - want).cwiseAbs().maxCoeff() < 1e-15);

  const Embedding e = spectral_embedding(l, 2);
  BOOST_TEST(std::abs(e.eigenvalues(0)) < 1e-12);
  BOOST_TEST(std::abs(e.eigenvalues(1) - 1) < 1e-12);
  // Before row normalisation the columns were (1, sqrt 2, 1)/2 and (1, 0, -1)/sqrt 2 up to
  // sign: rows 0 and 2 become (1, +-sqrt 2)/sqrt 3 and -(...), row 1 becomes (+-1, 0).
  for (int i = 0; i < 3; ++i) BOOST_TEST(std::abs(e.rows.row(i).norm() - 1) < 1e-12);
  BOOST_TEST(std::abs(std::abs(e.rows(1, 0)) - 1) < 1e-12);
  BOOST_TEST(std::abs(e.rows(1, 1)) < 1e-12);
  BOOST_TEST(std::abs(std::abs(e.rows(0, 0)) - 1 / std::sqrt(3.0)) < 1e-12);
  BOOST_TEST(std::abs(e.rows(0, 0) - e.rows(2, 0)) < 1e-12);  // same sign on the first column
  BOOST_TEST(std::abs(e.rows(0, 1) + e.rows(2, 1)) < 1e-12);  // opposite on the second
}

BOOST_AUTO_TEST_CASE(two_components_give_orthogonal_rows) {
  // Edges 0-1 and 2-3, nothing between them: eigenvalue 0 twice (one per component), and the
  // embedded rows of a component coincide while rows of different components are orthogonal.
  Eigen::MatrixXd w = Eigen::MatrixXd::Zero(4, 4);
  w(0, 1) = w(1, 0) = 1;
  w(2, 3) = w(3, 2) = 0.5;
  const Embedding e = spectral_embedding(normalised_laplacian(w), 2);
  BOOST_TEST(e.eigenvalues.cwiseAbs().maxCoeff() < 1e-12);
  BOOST_TEST((e.rows.row(0) - e.rows.row(1)).norm() < 1e-12);
  BOOST_TEST((e.rows.row(2) - e.rows.row(3)).norm() < 1e-12);
  BOOST_TEST(std::abs(e.rows.row(0).dot(e.rows.row(2))) < 1e-12);
  const KMeans km = kmeans(e.rows, 2, 3, 7);
  BOOST_TEST(km.label[0] == km.label[1]);
  BOOST_TEST(km.label[2] == km.label[3]);
  BOOST_TEST(km.label[0] != km.label[2]);
  BOOST_TEST(km.inertia < 1e-20);
}

BOOST_AUTO_TEST_CASE(a_point_without_neighbours_is_a_component_of_its_own) {
  Eigen::MatrixXd w = Eigen::MatrixXd::Zero(3, 3);
  w(0, 1) = w(1, 0) = 1;  // point 2 has degree 0
  const Eigen::MatrixXd l = normalised_laplacian(w);
  BOOST_TEST(l.row(2).cwiseAbs().maxCoeff() == 0.0);
  BOOST_TEST(l.col(2).cwiseAbs().maxCoeff() == 0.0);
  const Embedding e = spectral_embedding(l, 2);
  BOOST_TEST(e.eigenvalues.cwiseAbs().maxCoeff() < 1e-12);
  BOOST_TEST(std::abs(e.rows.row(0).dot(e.rows.row(2))) < 1e-12);
}

BOOST_AUTO_TEST_CASE(kmeans_refuses_more_clusters_than_points) {
  const Eigen::MatrixXd p = Eigen::MatrixXd::Zero(2, 1);
  BOOST_CHECK_THROW(kmeans(p, 3, 1, 0), narrow::Error);
  BOOST_CHECK_THROW(kmeans(p, 1, 0, 0), narrow::Error);
}

BOOST_AUTO_TEST_CASE(two_well_separated_groups_are_two_clusters) {
  // Small networks (few layers, narrow) against large ones, 15 laws each.
  const auto laws = concat({group({2, 1, 0, 3}, {8, 3, 1, 3}, 15, 1, 2.0, 1),
                            group({40, 6, 3, 3}, {60, 9, 4, 3}, 15, 1, 0.5, 2)});
  const Clustering c = cluster_laws(laws, bounds, Options{2, 0, 10, 42});
  expect_groups(c, {15, 15});
  expect_best(laws, c);
  BOOST_TEST(c.note.empty());
  BOOST_TEST(c.usable == 30u);
  BOOST_TEST(c.bandwidth > 0);
  BOOST_TEST(c.clusters[0].members.front() == 15u);  // the large laws cost less
}

BOOST_AUTO_TEST_CASE(three_groups_with_k_three) {
  const auto laws = concat({group({2, 1, 0, 3}, {6, 2, 0, 3}, 12, 1, 3.0, 3),
                            group({30, 4, 2, 3}, {34, 5, 2, 3}, 8, 1, 1.0, 4),
                            group({55, 8, 4, 3}, {62, 10, 4, 3}, 10, 1, 2.0, 5)});
  const Clustering c = cluster_laws(laws, bounds, Options{3, 0, 10, 1});
  expect_groups(c, {12, 8, 10});
  expect_best(laws, c);
  // Costs: the middle group in [1, 2), the last in [2, 3), the first in [3, 4).
  BOOST_TEST(c.cluster_of[12] == 0);
  BOOST_TEST(c.cluster_of[20] == 1);
  BOOST_TEST(c.cluster_of[0] == 2);
  BOOST_TEST(c.eigenvalues.size() == 3);
}

BOOST_AUTO_TEST_CASE(the_same_seed_gives_the_same_clusters) {
  // Overlapping laws, so that the k-means starts matter.
  const auto laws = concat({group({10, 3, 1, 3}, {40, 7, 3, 3}, 40, 12, 1.0, 6)});
  const Options o{6, 0, 4, 99};
  const Clustering a = cluster_laws(laws, bounds, o);
  const Clustering b = cluster_laws(laws, bounds, o);
  BOOST_TEST(a.cluster_of == b.cluster_of, boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(a.clusters.size(), b.clusters.size());
  for (std::size_t k = 0; k < a.clusters.size(); ++k)
    BOOST_TEST(a.clusters[k].best == b.clusters[k].best);
  BOOST_TEST(a.clusters.size() == 6u);
  expect_best(laws, a);
}

BOOST_AUTO_TEST_CASE(fewer_distinct_laws_than_k) {
  // Three distinct laws, repeated with other costs (a converged population), and two
  // unusable laws: three clusters, duplicates together, the unusable in none.
  const double inf = std::numeric_limits<double>::infinity();
  const LawPoint a{{1, 1, 0, 3}, {4, 2, 1, 3}, 0.3}, b{{20, 4, 2, 3}, {30, 6, 3, 3}, 0.2},
      c{{50, 9, 4, 3}, {64, 10, 4, 3}, 0.9};
  std::vector<LawPoint> laws{a,
                             b,
                             c,
                             a,
                             b,
                             a,
                             LawPoint{a.low, a.high, inf},
                             LawPoint{{1, 1, 1, 3}, {2, 2, 2, 3}, std::nan("")}};
  laws[3].cost = 0.1;
  const Clustering r = cluster_laws(laws, bounds, Options{10, 0, 10, 0});
  BOOST_TEST(r.usable == 6u);
  BOOST_TEST(r.distinct == 3u);
  BOOST_TEST(r.note.find("only 3 distinct usable laws") != std::string::npos, r.note);
  BOOST_REQUIRE_EQUAL(r.clusters.size(), 3u);
  const std::vector<int> want{0, 1, 2, 0, 1, 0, -1, -1};
  BOOST_TEST(r.cluster_of == want, boost::test_tools::per_element());
  BOOST_TEST(r.clusters[0].best == 3u);  // the copy of a with cost 0.1
  BOOST_TEST(r.clusters[0].members.size() == 3u);
  BOOST_TEST(r.clusters[1].best == 1u);
  expect_best(laws, r);
}

BOOST_AUTO_TEST_CASE(no_usable_law_gives_no_cluster) {
  const double inf = std::numeric_limits<double>::infinity();
  const Clustering r = cluster_laws({LawPoint{{1, 1, 0, 3}, {2, 2, 0, 3}, inf}}, bounds, Options{});
  BOOST_TEST(r.clusters.empty());
  BOOST_TEST(r.cluster_of == std::vector<int>{-1}, boost::test_tools::per_element());
  BOOST_TEST(r.note == "no usable law (every cost is infinite)");
  BOOST_CHECK_THROW(cluster_laws({}, bounds, Options{0, 0, 1, 0}), narrow::Error);
  BOOST_CHECK_THROW(cluster_laws({}, bounds, Options{2, -1, 1, 0}), narrow::Error);
}

BOOST_AUTO_TEST_CASE(a_narrow_kernel_leaves_laws_isolated) {
  // With a bandwidth far below the distances every kernel value underflows to 0: each law is
  // a component of its own, still one cluster per group of equal embedded rows.
  const auto laws = concat({group({2, 1, 0, 3}, {8, 3, 1, 3}, 4, 0, 1.0, 8),
                            group({40, 6, 3, 3}, {60, 9, 4, 3}, 4, 0, 2.0, 9)});
  // jitter 0: each group is one distinct law, so two clusters whatever the kernel.
  const Clustering r = cluster_laws(laws, bounds, Options{2, 1e-6, 3, 0});
  BOOST_TEST(r.distinct == 2u);
  expect_groups(r, {4, 4});
  const auto spread = concat({group({2, 1, 0, 3}, {8, 3, 1, 3}, 6, 2, 1.0, 10)});
  const Clustering s = cluster_laws(spread, bounds, Options{2, 1e-6, 3, 0});
  BOOST_TEST(s.isolated == s.distinct);
  BOOST_TEST(s.clusters.size() <= 2u);
  std::size_t members = 0;
  for (const Cluster& c : s.clusters) members += c.members.size();
  BOOST_TEST(members == spread.size());
}

BOOST_AUTO_TEST_CASE(population_records) {
  const std::string good = R"({"space": "sequential", "space_key": "abc", "metric": "params",
    "window": [1000, 2000], "window_name": "1e3-2e3", "population": [
      {"low": [1, 2], "high": [3, 4], "cost": 0.5, "mean": 3.2, "sigma": 0.1, "accepted": 10,
       "refused": 0},
      {"low": [1, 1], "high": [1, 1], "cost": null, "mean": null, "sigma": null, "accepted": 0,
       "refused": 10}]})";
  const Population p = parse_population(good, "population");
  BOOST_TEST(p.space == "sequential");
  BOOST_TEST(p.window_name == "1e3-2e3");
  BOOST_TEST(p.low == 1000.0);
  BOOST_TEST(p.high == 2000.0);
  BOOST_REQUIRE_EQUAL(p.laws.size(), 2u);
  BOOST_TEST(p.laws[0].law.cost == 0.5);
  BOOST_TEST(std::isinf(p.laws[1].law.cost));
  BOOST_TEST(std::isnan(p.laws[1].mean));
  BOOST_TEST(p.laws[1].refused == 10);

  auto refused = [](const std::string& text, const std::string& words) {
    try {
      parse_population(text, "population of stage 'search'");
    } catch (const narrow::Error& e) {
      BOOST_TEST(std::string(e.what()).find(words) != std::string::npos, e.what());
      return;
    }
    BOOST_ERROR("accepted: " << text);
  };
  refused("{", "population of stage 'search' cannot be read");
  std::string bad = good;
  bad.replace(bad.find("[1000, 2000]"), 12, "[2000, 1000]");
  refused(bad, "'window' is not [low, high]");
  bad = good;
  bad.replace(bad.find("\"high\": [3, 4]"), 14, "\"high\": [3]");
  refused(bad, "(law 0)");
  bad = good;
  bad.replace(bad.find("\"cost\": 0.5"), 11, "\"cost\": \"x\"");
  refused(bad, "'cost' is not a number");
}

BOOST_AUTO_TEST_CASE(window_bounds_as_the_grid_writes_them) {
  BOOST_TEST(short_number(1000) == "1e3");
  BOOST_TEST(short_number(5e6) == "5e6");
  BOOST_TEST(short_number(2) == "2e0");
  BOOST_TEST(short_number(1500) == "1500");
}
