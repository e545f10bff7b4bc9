#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <set>

#include "data/kmeans.hpp"
#include "engine/error.hpp"
#include "engine/random.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using data::KMeansResult;

struct Blobs {
  Tensor points;                        // [N, D]
  std::vector<int> truth;               // blob of each point
  std::vector<std::vector<double>> means;
};

// `per_blob` Gaussian points (σ = sigma) around each of `means`, interleaved so that blob
// membership is not a contiguous range.
Blobs make_blobs(const std::vector<std::vector<double>>& means, int per_blob, double sigma, std::uint64_t seed) {
  const auto k = static_cast<int>(means.size());
  const auto dims = static_cast<std::int64_t>(means[0].size());
  const std::int64_t n = static_cast<std::int64_t>(k) * per_blob;
  std::vector<float> xs(static_cast<std::size_t>(n * dims));
  Blobs blobs;
  blobs.means = means;
  for (std::int64_t i = 0; i < n; ++i) {
    const int blob = static_cast<int>((i * 7) % k);
    blobs.truth.push_back(blob);
    for (std::int64_t d = 0; d < dims; d += 2) {
      const rng::Philox4 w = rng::random_words(seed, static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(d));
      double z0, z1;
      rng::normal_pair(w.v[0], w.v[1], &z0, &z1);
      xs[i * dims + d] = static_cast<float>(means[blob][d] + sigma * z0);
      if (d + 1 < dims) xs[i * dims + d + 1] = static_cast<float>(means[blob][d + 1] + sigma * z1);
    }
  }
  blobs.points = Tensor::from_vector(xs, {n, dims});
  return blobs;
}

// Labels equal the truth up to a renaming of clusters (a bijection).
void expect_same_partition(const std::vector<std::int64_t>& labels, const std::vector<int>& truth) {
  ASSERT_EQ(labels.size(), truth.size());
  std::map<std::int64_t, int> to_truth;
  std::map<int, std::int64_t> from_truth;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto [a, inserted_a] = to_truth.emplace(labels[i], truth[i]);
    const auto [b, inserted_b] = from_truth.emplace(truth[i], labels[i]);
    ASSERT_EQ(a->second, truth[i]) << "point " << i << ": cluster " << labels[i] << " spans two blobs";
    ASSERT_EQ(b->second, labels[i]) << "point " << i << ": blob " << truth[i] << " split over two clusters";
  }
}

// Σ w‖x − c_label‖² in double, independently of the implementation.
double reference_inertia(const Tensor& points, const KMeansResult& r, const std::vector<float>* weights = nullptr) {
  const auto x = points.to_double_vector(), c = r.centers.to_double_vector();
  const std::int64_t n = points.dim(0), dims = points.dim(1);
  double total = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    double d2 = 0;
    for (std::int64_t d = 0; d < dims; ++d) d2 += std::pow(x[i * dims + d] - c[r.labels[i] * dims + d], 2);
    total += (weights ? (*weights)[i] : 1.0) * d2;
  }
  return total;
}

// Every label is a nearest center (up to float rounding of the distances).
void expect_nearest_labels(const Tensor& points, const KMeansResult& r) {
  const auto x = points.to_double_vector(), c = r.centers.to_double_vector();
  const std::int64_t n = points.dim(0), dims = points.dim(1), k = r.centers.dim(0);
  for (std::int64_t i = 0; i < n; ++i) {
    ASSERT_GE(r.labels[i], 0);
    ASSERT_LT(r.labels[i], k);
    double best = INFINITY, own = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      double d2 = 0;
      for (std::int64_t d = 0; d < dims; ++d) d2 += std::pow(x[i * dims + d] - c[j * dims + d], 2);
      best = std::min(best, d2);
      if (j == r.labels[i]) own = d2;
    }
    ASSERT_LE(own, best * (1 + 1e-5) + 1e-9) << "point " << i << " is not at its nearest center";
  }
}

void expect_monotone_history(const KMeansResult& r) {
  ASSERT_EQ(r.inertia_history.size(), static_cast<std::size_t>(r.iterations) + 1);
  EXPECT_EQ(r.inertia_history.back(), r.inertia);
  for (std::size_t t = 1; t < r.inertia_history.size(); ++t)
    EXPECT_LE(r.inertia_history[t], r.inertia_history[t - 1] * (1 + 1e-12)) << "iteration " << t;
}

const std::vector<std::vector<double>> kFiveBlobs = {{0, 0}, {20, 0}, {0, 20}, {20, 20}, {10, 40}};

TEST(KMeans, RecoversWellSeparatedBlobsExactly) {
  const Blobs blobs = make_blobs(kFiveBlobs, 200, 1.0, 7);
  for (std::uint64_t seed : {1, 2, 3, 4, 5}) {
    const KMeansResult r = data::kmeans(blobs.points, 5, seed);
    expect_same_partition(r.labels, blobs.truth);
    EXPECT_TRUE(r.converged);
    // Each center is its blob's sample mean, close to the generating mean.
    const auto c = r.centers.to_double_vector();
    for (int k = 0; k < 5; ++k) {
      double nearest = INFINITY;
      for (const auto& m : kFiveBlobs) nearest = std::min(nearest, std::hypot(c[2 * k] - m[0], c[2 * k + 1] - m[1]));
      EXPECT_LT(nearest, 0.3) << "seed " << seed << " center " << k;
    }
    EXPECT_NEAR(r.inertia, reference_inertia(blobs.points, r), 1e-6 * r.inertia);
    expect_monotone_history(r);
  }
}

// Higher dimension (odd D) and data far from the origin, where float distances would lose
// precision without centring.
TEST(KMeans, RecoversBlobsInFiveDimensionsFarFromTheOrigin) {
  std::vector<std::vector<double>> means = {
      {1e4, 1e4, 1e4, 1e4, 1e4}, {1e4 + 6, 1e4, 1e4, 1e4, 1e4}, {1e4, 1e4, 1e4 + 6, 1e4, 1e4}, {1e4, 1e4, 1e4, 1e4, 1e4 - 6}};
  const Blobs blobs = make_blobs(means, 150, 0.3, 9);
  const KMeansResult r = data::kmeans(blobs.points, 4, 3);
  expect_same_partition(r.labels, blobs.truth);
  expect_nearest_labels(blobs.points, r);
}

TEST(KMeans, SameSeedSameResultDifferentSeedsDiffer) {
  const Tensor points = testing::random_tensor({2000, 2}, 21);
  const KMeansResult a = data::kmeans(points, 12, 99);
  const KMeansResult b = data::kmeans(points, 12, 99);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.centers.to_vector(), b.centers.to_vector());
  EXPECT_EQ(a.inertia_history, b.inertia_history);
  int differing = 0;
  for (std::uint64_t seed : {100, 101, 102, 103}) differing += data::kmeans(points, 12, seed).centers.to_vector() != a.centers.to_vector();
  EXPECT_GT(differing, 0) << "uniform data has many local optima: the seed must matter";
}

TEST(KMeans, OneClusterIsTheMean) {
  const Tensor points = testing::random_tensor({301, 3}, 5, -2, 3);
  const KMeansResult r = data::kmeans(points, 1, 0);
  const auto x = points.to_double_vector();
  const auto c = r.centers.to_double_vector();
  for (int d = 0; d < 3; ++d) {
    double mean = 0;
    for (int i = 0; i < 301; ++i) mean += x[i * 3 + d];
    EXPECT_NEAR(c[d], mean / 301, 1e-6);
  }
  EXPECT_EQ(r.labels, std::vector<std::int64_t>(301, 0));
  EXPECT_TRUE(r.converged);
  EXPECT_LE(r.iterations, 2);
  EXPECT_NEAR(r.inertia, reference_inertia(points, r), 1e-9 * r.inertia);
}

TEST(KMeans, AsManyClustersAsPointsGivesEachPointItsOwn) {
  const Tensor points = testing::random_tensor({40, 2}, 8);
  const KMeansResult r = data::kmeans(points, 40, 4);
  EXPECT_EQ(std::set<std::int64_t>(r.labels.begin(), r.labels.end()).size(), 40u);
  EXPECT_EQ(r.inertia, 0.0);
  const auto x = points.to_vector(), c = r.centers.to_vector();
  for (int i = 0; i < 40; ++i)
    for (int d = 0; d < 2; ++d) EXPECT_NEAR(c[r.labels[i] * 2 + d], x[i * 2 + d], 1e-6);
}

TEST(KMeans, DuplicatePointsWithAsManyClustersDoNotBreak) {
  const Tensor points = Tensor::from_vector(std::vector<float>{0, 0, 1, 1, 0, 0, 1, 1, 5, 5, 0, 0}, {6, 2});
  const KMeansResult r = data::kmeans(points, 6, 1);
  EXPECT_EQ(r.inertia, 0.0);
  for (float v : r.centers.to_vector()) EXPECT_TRUE(std::isfinite(v));
  expect_nearest_labels(points, r);
}

TEST(KMeans, WeightsPullCenters) {
  // One cluster: the weighted mean.
  const Tensor line = Tensor::from_vector(std::vector<float>{0, 1, 2, 10}, {4, 1});
  const std::vector<float> w = {1, 1, 1, 3};
  const KMeansResult one = data::kmeans(line, 1, 0, 100, 1e-9, &w);
  EXPECT_NEAR(one.centers.item(), (0 + 1 + 2 + 30) / 6.0, 1e-6);
  EXPECT_NEAR(one.inertia, reference_inertia(line, one, &w), 1e-9);

  // Two blobs; a heavy point inside the first pulls its center, zero-weight outliers count for
  // nothing and are never chosen as centers.
  const Blobs blobs = make_blobs({{0, 0}, {50, 0}}, 100, 1.0, 3);
  std::vector<float> weights(200, 1.0f);
  const KMeansResult plain = data::kmeans(blobs.points, 2, 5);
  const auto x = blobs.points.to_vector();
  int heavy = 0;
  while (blobs.truth[heavy] != 0 || x[2 * heavy] < 0.5) ++heavy;  // a point right of blob 0's mean
  weights[heavy] = 100;
  const KMeansResult pulled = data::kmeans(blobs.points, 2, 5, 100, 1e-6, &weights);
  expect_same_partition(pulled.labels, blobs.truth);
  const auto cp = plain.centers.to_vector(), cw = pulled.centers.to_vector();
  const int kp = static_cast<int>(plain.labels[heavy]), kw = static_cast<int>(pulled.labels[heavy]);
  const double before = std::hypot(cp[2 * kp] - x[2 * heavy], cp[2 * kp + 1] - x[2 * heavy + 1]);
  const double after = std::hypot(cw[2 * kw] - x[2 * heavy], cw[2 * kw + 1] - x[2 * heavy + 1]);
  // The heavy point counts 100 times instead of once among its blob's 100 points: its center
  // moves to (S + 99·x_h)/199, i.e. 100/199 of the former distance from x_h.
  EXPECT_NEAR(after, 100.0 / 199.0 * before, 1e-4);
  EXPECT_NEAR(pulled.inertia, reference_inertia(blobs.points, pulled, &weights), 1e-6 * pulled.inertia);

  std::vector<float> with_outlier_weights(201, 1.0f);
  with_outlier_weights[200] = 0;
  std::vector<float> xs = x;
  xs.push_back(1e4f);
  xs.push_back(1e4f);
  const Tensor with_outlier = Tensor::from_vector(xs, {201, 2});
  for (std::uint64_t seed : {1, 2, 3}) {
    const KMeansResult r = data::kmeans(with_outlier, 2, seed, 100, 1e-6, &with_outlier_weights);
    std::vector<std::int64_t> first(r.labels.begin(), r.labels.begin() + 200);
    expect_same_partition(first, blobs.truth);
    for (float v : r.centers.to_vector()) EXPECT_LT(std::abs(v), 60.0f) << "seed " << seed;
  }
}

TEST(KMeans, InertiaNeverIncreasesAcrossIterations) {
  const Tensor points = testing::random_tensor({5000, 2}, 31, -1, 1);
  for (std::uint64_t seed : {1, 2}) {
    const KMeansResult r = data::kmeans(points, 25, seed, 300, 0.0);
    EXPECT_GT(r.iterations, 5) << "a short run would not test much";
    EXPECT_LT(r.inertia_history.back(), r.inertia_history.front());
    expect_monotone_history(r);
    expect_nearest_labels(points, r);
    EXPECT_NEAR(r.inertia, reference_inertia(points, r), 1e-6 * r.inertia);
  }
}

TEST(KMeans, IterationLimitAndZeroIterations) {
  const Tensor points = testing::random_tensor({1000, 2}, 41);
  const KMeansResult capped = data::kmeans(points, 10, 1, 3, 0.0);
  EXPECT_EQ(capped.iterations, 3);
  EXPECT_FALSE(capped.converged);
  const KMeansResult seeded = data::kmeans(points, 10, 1, 0);
  EXPECT_EQ(seeded.iterations, 0);
  EXPECT_EQ(seeded.inertia_history.size(), 1u);
  // Without updates the centers are k-means++ picks: data points.
  const auto x = points.to_vector(), c = seeded.centers.to_vector();
  for (int k = 0; k < 10; ++k) {
    bool found = false;
    for (int i = 0; i < 1000 && !found; ++i) found = x[2 * i] == c[2 * k] && x[2 * i + 1] == c[2 * k + 1];
    EXPECT_TRUE(found) << "center " << k;
  }
}

// A cluster that loses all its points is moved to the point farthest from its center.
TEST(KMeans, EmptyClusterIsReseededAtTheFarthestPoint) {
  const Tensor points = Tensor::from_vector(std::vector<float>{0, 1, 10, 11}, {4, 1});
  const Tensor start = Tensor::from_vector(std::vector<float>{5.4f, 5.7f, 100.0f}, {3, 1});
  const KMeansResult r = data::kmeans_from(points, start, 10, 0.0);
  // After the first update: centers 0.5, 10.5 and the empty third one at point 0 (5.4 from its
  // center, farther than point 11 at 5.3); then 1, 10.5, 0.
  EXPECT_EQ(r.centers.to_vector(), (std::vector<float>{1.0f, 10.5f, 0.0f}));
  EXPECT_EQ(r.labels, (std::vector<std::int64_t>{2, 0, 1, 1}));
  EXPECT_DOUBLE_EQ(r.inertia, 0.5);
  EXPECT_TRUE(r.converged);
  expect_monotone_history(r);
  EXPECT_NEAR(r.inertia_history[0], 5.4 * 5.4 + 4.4 * 4.4 + 4.3 * 4.3 + 5.3 * 5.3, 1e-5);  // float centers
}

TEST(KMeans, BadInputsAreNamed) {
  const Tensor points = testing::random_tensor({10, 2}, 1);
  testing::expect_invalid_argument([&] { data::kmeans(points, 0, 1); }, "kmeans clusters");
  testing::expect_invalid_argument([&] { data::kmeans(points, 11, 1); }, "N = 10");
  testing::expect_invalid_argument([&] { data::kmeans(Tensor::zeros({0, 2}), 1, 1); }, "empty input");
  testing::expect_invalid_argument([&] { data::kmeans(Tensor::zeros({10}), 1, 1); }, "expected shape [N, D]");
  testing::expect_invalid_argument([&] { data::kmeans(Tensor::zeros({10, 2}, Device::cpu(), DType::Float64), 1, 1); }, "float32");
  testing::expect_invalid_argument([&] { data::kmeans(Tensor(), 1, 1); }, "kmeans points");
  std::vector<float> xs = points.to_vector();
  xs[3 * 2 + 1] = std::nanf("");
  testing::expect_invalid_argument([&] { data::kmeans(Tensor::from_vector(xs, {10, 2}), 2, 1); }, "row 3 column 1 is nan");
  xs[3 * 2 + 1] = INFINITY;
  testing::expect_invalid_argument([&] { data::kmeans(Tensor::from_vector(xs, {10, 2}), 2, 1); }, "row 3");
  testing::expect_invalid_argument([&] { data::kmeans(points, 2, 1, -1); }, "max_iterations");
  testing::expect_invalid_argument([&] { data::kmeans(points, 2, 1, 10, NAN); }, "tolerance");
  const std::vector<float> short_weights(9, 1.0f);
  testing::expect_invalid_argument([&] { data::kmeans(points, 2, 1, 10, 1e-6, &short_weights); }, "kmeans weights: expected 10");
  std::vector<float> negative(10, 1.0f);
  negative[4] = -1;
  testing::expect_invalid_argument([&] { data::kmeans(points, 2, 1, 10, 1e-6, &negative); }, "kmeans weights: row 4");
  std::vector<float> sparse(10, 0.0f);
  sparse[2] = 1;
  testing::expect_invalid_argument([&] { data::kmeans(points, 2, 1, 10, 1e-6, &sparse); }, "only 1 points have a positive weight");
  testing::expect_invalid_argument([&] { data::kmeans_from(points, Tensor::zeros({2, 3}), 10); }, "kmeans initial_centers");
}

// The size LaTF's default initial labelling needs (K0 = 100); the time goes to the test log.
TEST(KMeans, MillionPointsTwoDimensionsHundredClusters) {
  const std::int64_t n = 1000000;
  const Tensor points = testing::random_tensor({n, 2}, 77, -3, 3);
  const auto start = std::chrono::steady_clock::now();
  const KMeansResult r = data::kmeans(points, 100, 1);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("seconds", std::to_string(seconds));
  RecordProperty("iterations", r.iterations);
  std::printf("kmeans N=1e6 D=2 K=100: %.2f s, %d iterations (%s)\n", seconds, r.iterations,
              r.converged ? "converged" : "iteration limit");
  EXPECT_EQ(r.labels.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(r.centers.shape(), (Shape{100, 2}));
  expect_monotone_history(r);
  EXPECT_NEAR(r.inertia, reference_inertia(points, r), 1e-6 * r.inertia);
  // Uniform data on a 6×6 square, per point: one cluster gives 6, a tiling by 100 squares of
  // area a = 0.36 gives a/6 = 0.06, regular hexagons ≈ 0.0577 (plus boundary losses). A good
  // local optimum beats the square tiling.
  EXPECT_LT(r.inertia / static_cast<double>(n), 0.06);
}

}  // namespace
}  // namespace latf
