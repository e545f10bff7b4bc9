#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/random_math.hpp"
#include "models/analysis/free_energy.hpp"
#include "models/analysis/gmrq.hpp"
#include "models/analysis/histogram_kl.hpp"
#include "models/analysis/populations.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using Trajectories = std::vector<std::vector<std::int64_t>>;

Tensor points(const std::vector<float>& xy) {
  return Tensor::from_vector(xy, {static_cast<std::int64_t>(xy.size() / 2), 2});
}

// n points of N(mean, diag(sd²)) as [n, 2], reproducible from the seed.
Tensor gaussian_points(std::int64_t n, std::uint64_t seed, double mx, double my, double sx, double sy) {
  std::vector<float> xy(2 * n);
  for (std::int64_t i = 0; i < n; ++i) {
    double z[4];
    rng::normal_block(seed, 0, i, z);
    xy[2 * i] = static_cast<float>(mx + sx * z[0]);
    xy[2 * i + 1] = static_cast<float>(my + sy * z[1]);
  }
  return points(xy);
}

std::vector<float> standard_normals(std::int64_t n, std::uint64_t seed) {
  const std::vector<float> xy = gaussian_points(n, seed, 0, 0, 1, 1).to_vector();
  std::vector<float> x(n);
  for (std::int64_t i = 0; i < n; ++i) x[i] = xy[2 * i];
  return x;
}

double uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return rng::uniform_open(rng::random_words(seed, stream, index).v[0]);
}

// A Markov chain of `steps` states from a row-stochastic matrix, starting in state 0.
std::vector<std::int64_t> simulate(const std::vector<std::vector<double>>& transition, std::size_t steps,
                                   std::uint64_t seed) {
  std::vector<std::int64_t> s(steps, 0);
  for (std::size_t t = 1; t < steps; ++t) {
    const std::vector<double>& row = transition[s[t - 1]];
    double u = uniform(seed, 1, t), cumulative = 0.0;
    std::int64_t next = static_cast<std::int64_t>(row.size()) - 1;
    for (std::size_t j = 0; j < row.size(); ++j) {
      cumulative += row[j];
      if (u < cumulative) {
        next = static_cast<std::int64_t>(j);
        break;
      }
    }
    s[t] = next;
  }
  return s;
}

// ---------------------------------------------------------------- histogram KL divergence

TEST(MetricsKl, HandComputedTwoByTwo) {
  // p's range is [0, 1]² with edges {0, 0.5, 1}: 0.5 goes to the upper bin, 1 to the last one.
  const Tensor p = points({0, 0, 1, 1, 1, 0, 0.5f, 0.5f});                 // H_p = [[1, 0], [1, 2]]
  const Tensor q = points({0.2f, 0.7f, 0.2f, 0.7f, 0.9f, 0.1f, 2, 2, -1, 0.5f});  // H_q = [[0, 2], [1, 0]]
  const double hp[4] = {1, 0, 1, 2}, hq[4] = {0, 2, 1, 0};
  for (double eps : {0.1, 1e-10}) {
    double zp = 0, zq = 0, expected = 0;
    for (int k = 0; k < 4; ++k) zp += hp[k] + eps, zq += hq[k] + eps;
    for (int k = 0; k < 4; ++k) {
      const double pk = (hp[k] + eps) / zp, qk = (hq[k] + eps) / zq;
      expected += pk * std::log(pk / qk);
    }
    EXPECT_NEAR(analysis::histogram_kl_divergence(p, q, 2, eps), expected, 1e-12 * expected) << "eps " << eps;
  }
}

TEST(MetricsKl, ZeroWidthAxisIsWidenedByHalf) {
  // Every p has x = 1, so the x range is [0.5, 1.5] with edges {0.5, 1, 1.5}: x = 1 is in bin 1.
  // Bins (0,0), (0,1), (1,0), (1,1): H_p = {0, 0, 1, 1}, H_q = {1, 0, 0, 1}.
  const Tensor p = points({1, 0, 1, 1});
  const Tensor q = points({0.7f, 0, 1.2f, 1});
  const double eps = 0.5, z = 2 + 4 * eps;
  const double p_k[4] = {eps, eps, 1 + eps, 1 + eps}, q_k[4] = {1 + eps, eps, eps, 1 + eps};
  double expected = 0;
  for (int k = 0; k < 4; ++k) expected += p_k[k] / z * std::log(p_k[k] / q_k[k]);
  EXPECT_NEAR(analysis::histogram_kl_divergence(p, q, 2, eps), expected, 1e-12);
}

TEST(MetricsKl, SameDistributionGivesZeroAndDifferentGivesPositive) {
  const Tensor p = gaussian_points(5000, 11, 0, 0, 1, 1);
  EXPECT_EQ(analysis::histogram_kl_divergence(p, p), 0.0);
  const Tensor q = gaussian_points(5000, 12, 0.3, 0, 1, 1);
  const double pq = analysis::histogram_kl_divergence(p, q, 20), qp = analysis::histogram_kl_divergence(q, p, 20);
  EXPECT_GT(pq, 0.0);
  EXPECT_GT(qp, 0.0);
  EXPECT_NE(pq, qp);  // the metric is not symmetric (and the range follows the first set)
}

TEST(MetricsKl, GaussianCaseMatchesAnalyticValue) {
  // KL(N(0, I) ‖ N(μ, diag σ²)) = ½ Σ_axes [1/σ² + μ²/σ² − 1 + ln σ²]. q is wider than p on both
  // axes: where q is narrower, p's lone tail samples land in bins q leaves empty, and each adds
  // about p log(p / ε), an upward bias of this estimator (≈ 0.02 here with σ_y = 0.9).
  const double mx = 0.5, my = 0.3, sx = 1.2, sy = 1.1;
  auto axis = [](double m, double s) { return 0.5 * (1 / (s * s) + m * m / (s * s) - 1 + std::log(s * s)); };
  const double analytic = axis(mx, sx) + axis(my, sy);
  const Tensor p = gaussian_points(400000, 21, 0, 0, 1, 1);
  const Tensor q = gaussian_points(400000, 22, mx, my, sx, sy);
  EXPECT_NEAR(analysis::histogram_kl_divergence(p, q, 40), analytic, 0.01) << "analytic " << analytic;
}

TEST(MetricsKl, IntegerWeightsEqualRepeatedSamples) {
  // Weights >= 1 keep every p sample, so the range (taken from the samples) is unchanged.
  const std::vector<float> p = gaussian_points(200, 31, 0, 0, 1, 1).to_vector();
  const std::vector<float> q = gaussian_points(150, 32, 0.2, -0.1, 1, 1.1).to_vector();
  auto repeat = [](const std::vector<float>& xy, std::vector<float>& weights, int cycle) {
    std::vector<float> repeated;
    weights.resize(xy.size() / 2);
    for (std::size_t i = 0; i < weights.size(); ++i) {
      weights[i] = static_cast<float>(1 + i % cycle);
      for (std::size_t r = 0; r <= i % cycle; ++r) repeated.insert(repeated.end(), {xy[2 * i], xy[2 * i + 1]});
    }
    return repeated;
  };
  std::vector<float> p_weights, q_weights;
  const std::vector<float> p_repeated = repeat(p, p_weights, 3), q_repeated = repeat(q, q_weights, 2);
  const double weighted =
      analysis::histogram_kl_divergence(points(p), points(q), 10, 1e-6, &p_weights, &q_weights);
  const double repeated = analysis::histogram_kl_divergence(points(p_repeated), points(q_repeated), 10, 1e-6);
  EXPECT_NEAR(weighted, repeated, 1e-12);
  EXPECT_GT(std::abs(weighted - analysis::histogram_kl_divergence(points(p), points(q), 10, 1e-6)), 1e-4);
}

TEST(MetricsKl, ZeroEpsilonGivesInfinityWhereQIsEmpty) {
  const Tensor p = points({0, 0, 1, 1});
  EXPECT_EQ(analysis::histogram_kl_divergence(p, points({0.1f, 0.1f}), 2, 0.0), INFINITY);
  EXPECT_NEAR(analysis::histogram_kl_divergence(p, points({0.1f, 0.1f, 0.9f, 0.9f}), 2, 0.0), 0.0, 1e-15);
}

TEST(MetricsKl, BadInputsAreNamed) {
  const Tensor ok = points({0, 0, 1, 1});
  const std::vector<float> three(3, 1.f), negative = {1.f, -1.f};
  testing::expect_invalid_argument([&] { analysis::histogram_kl_divergence(Tensor::zeros({2, 3}), ok); }, "p_samples");
  testing::expect_invalid_argument([&] { analysis::histogram_kl_divergence(ok, Tensor::zeros({4})); }, "q_samples");
  testing::expect_invalid_argument([&] { analysis::histogram_kl_divergence(Tensor::zeros({0, 2}), ok); }, "p_samples");
  testing::expect_invalid_argument([&] { analysis::histogram_kl_divergence(ok.to(DType::Float64), ok); }, "p_samples");
  testing::expect_invalid_argument([&] { analysis::histogram_kl_divergence(ok, points({0, NAN})); }, "q_samples");
  testing::expect_invalid_argument([&] { analysis::histogram_kl_divergence(ok, Tensor()); }, "q_samples");
  testing::expect_invalid_argument([&] { analysis::histogram_kl_divergence(ok, ok, 0); }, "bins");
  testing::expect_invalid_argument([&] { analysis::histogram_kl_divergence(ok, ok, 10, -1.0); }, "epsilon");
  testing::expect_invalid_argument([&] { analysis::histogram_kl_divergence(ok, ok, 10, 1e-10, &three); }, "p_weights");
  testing::expect_invalid_argument([&] { analysis::histogram_kl_divergence(ok, ok, 10, 1e-10, nullptr, &negative); }, "q_weights");
  testing::expect_invalid_argument([&] { analysis::histogram_kl_divergence(ok, points({5, 5}), 10, 0.0); }, "q_samples");
}

// ---------------------------------------------------------------- free energy

TEST(MetricsFreeEnergy, HandComputedProfileWithBlockErrors) {
  // Two blocks: {0.1, 0.1, 0.1} → P = (1, 0); {0.6, 1.0, 1.5, −0.2} → in range 0.6, 1.0 → P = (0, 1).
  // Overall P = (3/5, 2/5); sd over blocks of P_k is √½, so its standard error is ½.
  const std::vector<float> values = {0.1f, 0.1f, 0.1f, 0.6f, 1.0f, 1.5f, -0.2f};
  const analysis::Profile f = analysis::free_energy_profile(values, 2, 0.0, 1.0, nullptr, 2);
  EXPECT_EQ(f.centers, (std::vector<double>{0.25, 0.75}));
  EXPECT_NEAR(f.free_energy[0], 0.0, 1e-15);
  EXPECT_NEAR(f.free_energy[1], std::log(1.5), 1e-12);
  EXPECT_NEAR(f.error[0], 0.5 / 0.6, 1e-12);
  EXPECT_NEAR(f.error[1], 0.5 / 0.4, 1e-12);
}

TEST(MetricsFreeEnergy, EmptyBinIsInfinite) {
  const analysis::Profile f = analysis::free_energy_profile({0.1f, 0.2f, 2.9f, 0.1f}, 3, 0.0, 3.0, nullptr, 2);
  EXPECT_EQ(f.free_energy[1], INFINITY);
  EXPECT_EQ(f.error[1], INFINITY);
  EXPECT_NEAR(f.free_energy[2], std::log(3.0), 1e-12);
}

TEST(MetricsFreeEnergy, IntegerWeightsEqualRepeatedValues) {
  const std::vector<float> values = standard_normals(300, 41);
  std::vector<float> weights(values.size()), repeated;
  for (std::size_t i = 0; i < values.size(); ++i) {
    weights[i] = static_cast<float>(1 + i % 3);
    repeated.insert(repeated.end(), 1 + i % 3, values[i]);
  }
  const analysis::Profile a = analysis::free_energy_profile(values, 7, -2.0, 2.0, &weights, 3);
  const analysis::Profile b = analysis::free_energy_profile(repeated, 7, -2.0, 2.0, nullptr, 3);
  EXPECT_LT(testing::max_relative_error(a.free_energy, b.free_energy), 1e-12);
}

TEST(MetricsFreeEnergy, GaussianProfileMatchesExactBinsWithinErrors) {
  // For standard normal samples, F_k = −log(Φ(b_k) − Φ(a_k)) up to a constant.
  const std::int64_t n = 200000;
  const int bins = 20;
  const analysis::Profile f = analysis::free_energy_profile(standard_normals(n, 42), bins, -2.0, 2.0, nullptr, 10);
  auto cdf = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  std::vector<double> residual(bins);
  double inside = cdf(2.0) - cdf(-2.0), ratio_sum = 0;
  for (int k = 0; k < bins; ++k) {
    const double a = -2.0 + 0.2 * k, b = a + 0.2, p = (cdf(b) - cdf(a)) / inside;
    residual[k] = f.free_energy[k] + std::log(p);
    // Independent samples: sd(P̂) = √(P(1−P)/N_in), so sd(F) = √((1−P)/(N_in P)).
    ratio_sum += f.error[k] / std::sqrt((1 - p) / (n * inside * p));
  }
  const double offset = std::accumulate(residual.begin(), residual.end(), 0.0) / bins;
  for (int k = 0; k < bins; ++k) EXPECT_LT(std::abs(residual[k] - offset), 5 * f.error[k] + 1e-3) << "bin " << k;
  EXPECT_GT(ratio_sum / bins, 0.8);
  EXPECT_LT(ratio_sum / bins, 1.25);
  EXPECT_EQ(*std::min_element(f.free_energy.begin(), f.free_energy.end()), 0.0);
}

TEST(MetricsFreeEnergy, NanErrorsWithFewerThanTwoUsableBlocks) {
  const std::vector<float> values = {0.1f, 0.2f, 0.3f, 0.4f}, weights = {1, 1, 0, 0};
  const analysis::Profile f = analysis::free_energy_profile(values, 2, 0.0, 1.0, &weights, 2);
  EXPECT_EQ(f.free_energy[0], 0.0);
  EXPECT_TRUE(std::isnan(f.error[0]));
}

TEST(MetricsFreeEnergy, HandComputedSurfaceIsRowMajor) {
  // Points (0.1, 0.9) ×2 → bin (0, 1); (0.9, 0.1) → bin (1, 0); (0.5, 2) is out of the y range.
  const std::vector<float> x = {0.1f, 0.1f, 0.9f, 0.5f}, y = {0.9f, 0.9f, 0.1f, 2.0f};
  const analysis::Surface s = analysis::free_energy_surface(x, y, 2, 2, {0, 1, 0, 1}, nullptr, 2);
  ASSERT_EQ(s.free_energy.size(), 4u);
  EXPECT_EQ(s.free_energy[0], INFINITY);
  EXPECT_EQ(s.free_energy[1], 0.0);
  EXPECT_NEAR(s.free_energy[2], std::log(2.0), 1e-12);
  EXPECT_EQ(s.free_energy[3], INFINITY);
  // Blocks: P = (0, 1, 0, 0) and (0, 0, 1, 0): standard error ½ on both populated bins.
  EXPECT_NEAR(s.error[1], 0.5 / (2.0 / 3), 1e-12);
  EXPECT_NEAR(s.error[2], 0.5 / (1.0 / 3), 1e-12);
  EXPECT_EQ(s.centers_x, (std::vector<double>{0.25, 0.75}));
}

TEST(MetricsFreeEnergy, SurfaceWithOneYBinEqualsProfile) {
  const std::vector<float> x = standard_normals(1000, 43), y(1000, 0.f);
  const analysis::Surface s = analysis::free_energy_surface(x, y, 9, 1, {-2, 2, -1, 1}, nullptr, 4);
  const analysis::Profile p = analysis::free_energy_profile(x, 9, -2, 2, nullptr, 4);
  EXPECT_EQ(s.free_energy, p.free_energy);
  EXPECT_EQ(s.error, p.error);
  EXPECT_EQ(s.centers_x, p.centers);
}

TEST(MetricsFreeEnergy, BadInputsAreNamed) {
  const std::vector<float> v = {0.1f, 0.2f, 0.3f}, two = {1, 1}, negative = {1, -1, 1};
  testing::expect_invalid_argument([&] { analysis::free_energy_profile(v, 0, 0, 1); }, "bins");
  testing::expect_invalid_argument([&] { analysis::free_energy_profile(v, 2, 1, 1, nullptr, 2); }, "range");
  testing::expect_invalid_argument([&] { analysis::free_energy_profile(v, 2, 0, NAN, nullptr, 2); }, "range");
  testing::expect_invalid_argument([&] { analysis::free_energy_profile({0.1f, NAN, 0.3f}, 2, 0, 1, nullptr, 2); }, "values");
  testing::expect_invalid_argument([&] { analysis::free_energy_profile(v, 2, 0, 1, &two, 2); }, "weights");
  testing::expect_invalid_argument([&] { analysis::free_energy_profile(v, 2, 0, 1, &negative, 2); }, "weights");
  testing::expect_invalid_argument([&] { analysis::free_energy_profile(v, 2, 0, 1, nullptr, 1); }, "blocks");
  testing::expect_invalid_argument([&] { analysis::free_energy_profile(v, 2, 0, 1, nullptr, 4); }, "blocks");
  testing::expect_invalid_argument([&] { analysis::free_energy_profile(v, 2, 5, 6, nullptr, 2); }, "values");
  testing::expect_invalid_argument([&] { analysis::free_energy_surface(v, two, 2, 2, {0, 1, 0, 1}, nullptr, 2); }, "y");
  testing::expect_invalid_argument([&] { analysis::free_energy_surface(v, v, 2, 0, {0, 1, 0, 1}, nullptr, 2); }, "bins_y");
  testing::expect_invalid_argument([&] { analysis::free_energy_surface(v, v, 2, 2, {1, 0, 0, 1}, nullptr, 2); }, "ranges (x)");
}

// ---------------------------------------------------------------- GMRQ

const std::vector<std::vector<double>> kTwoState = {{0.9, 0.1}, {0.05, 0.95}};  // λ₂ = 1 − p − q = 0.85

TEST(MetricsGmrq, HandComputedTrainAndValidation) {
  // Train [0 0 0 1 1 1], lag 1: symmetrised counts [[2, ½], [½, 2]] / 5, π = (½, ½), so
  // T = [[0.8, 0.2], [0.2, 0.8]] with λ = {1, 0.6} and C(0)-orthonormal V = [(1, 1), (1, −1)].
  // Validation [0 0 1 1]: C_val(τ) = [[1/3, 1/6], [1/6, 1/3]], π = (½, ½), so VᵀC_val(0)V = I and
  // the score is 1 + (1/3 + 1/3 − 1/3) = 4/3.
  const analysis::GmrqResult r = analysis::gmrq({{0, 0, 0, 1, 1, 1}}, {{0, 0, 1, 1}}, 2, 1, 2);
  EXPECT_NEAR(r.train_score, 1.6, 1e-12);
  ASSERT_EQ(r.eigenvalues.size(), 2u);
  EXPECT_NEAR(r.eigenvalues[0], 1.0, 1e-12);
  EXPECT_NEAR(r.eigenvalues[1], 0.6, 1e-12);
  EXPECT_NEAR(r.validation_score, 4.0 / 3.0, 1e-12);
}

TEST(MetricsGmrq, TwoStateChainScoreIsOnePlusLambdaToTheLag) {
  const Trajectories train = {simulate(kTwoState, 200000, 51)}, validation = {simulate(kTwoState, 200000, 52)};
  for (int lag : {1, 3}) {
    const double expected = 1 + std::pow(0.85, lag);
    const analysis::GmrqResult r = analysis::gmrq(train, validation, 2, lag, 2);
    EXPECT_NEAR(r.eigenvalues[0], 1.0, 1e-12) << "lag " << lag;
    EXPECT_NEAR(r.train_score, expected, 0.01) << "lag " << lag;
    EXPECT_NEAR(r.validation_score, expected, 0.02) << "lag " << lag;
    EXPECT_NEAR(analysis::gmrq(train, validation, 2, lag, 1).train_score, 1.0, 1e-12) << "lag " << lag;
  }
}

TEST(MetricsGmrq, IdentityChainScoresRankAndSkipsUnvisitedStates) {
  // State 3 never appears: it is left out, so only 3 eigenvalues exist.
  const Trajectories train = {std::vector<std::int64_t>(50, 0), std::vector<std::int64_t>(30, 1),
                              std::vector<std::int64_t>(20, 2)};
  for (int rank : {1, 2, 3}) {
    const analysis::GmrqResult r = analysis::gmrq(train, train, 4, 2, rank);
    EXPECT_NEAR(r.train_score, rank, 1e-12);
    EXPECT_NEAR(r.validation_score, rank, 1e-12);
  }
  testing::expect_invalid_argument([&] { analysis::gmrq(train, train, 4, 2, 4); }, "rank");
}

TEST(MetricsGmrq, ValidationOnTrainingDataEqualsTrainScore) {
  const std::vector<std::vector<double>> three = {{0.8, 0.15, 0.05}, {0.1, 0.85, 0.05}, {0.02, 0.08, 0.9}};
  const Trajectories data = {simulate(three, 5000, 53), simulate(three, 3000, 54)};
  for (int rank : {1, 2, 3}) {
    const analysis::GmrqResult r = analysis::gmrq(data, data, 3, 2, rank);
    EXPECT_NEAR(r.validation_score, r.train_score, 1e-10) << "rank " << rank;
  }
}

TEST(MetricsGmrq, PermutedLabelsKeepScoreAndNoisyLabelsLowerIt) {
  const std::vector<std::vector<double>> four = {
      {0.96, 0.02, 0.01, 0.01}, {0.02, 0.95, 0.02, 0.01}, {0.01, 0.02, 0.95, 0.02}, {0.01, 0.01, 0.02, 0.96}};
  const std::vector<std::int64_t> s = simulate(four, 50000, 55);
  const double clean = analysis::gmrq({s}, {s}, 4, 1, 4).train_score;
  std::vector<std::int64_t> permuted(s.size()), noisy(s);
  const std::int64_t relabel[4] = {2, 0, 3, 1};
  for (std::size_t t = 0; t < s.size(); ++t) {
    permuted[t] = relabel[s[t]];
    if (uniform(56, 0, t) < 0.3) noisy[t] = static_cast<std::int64_t>(4 * uniform(56, 1, t));
  }
  EXPECT_NEAR(analysis::gmrq({permuted}, {permuted}, 4, 1, 4).train_score, clean, 1e-9);
  EXPECT_LT(analysis::gmrq({noisy}, {noisy}, 4, 1, 4).train_score, clean - 0.5);
  EXPECT_LT(analysis::gmrq({s}, {noisy}, 4, 1, 4).validation_score, clean - 0.5);
}

TEST(MetricsGmrq, ValidationStatesOutsideTrainingAndMissingStates) {
  const Trajectories train = {simulate(kTwoState, 2000, 57)};
  // A validation state absent from training is ignored: the score stays finite.
  Trajectories extra = {simulate(kTwoState, 2000, 58)};
  extra[0].insert(extra[0].begin() + 100, {2, 2, 2});
  EXPECT_TRUE(std::isfinite(analysis::gmrq(train, extra, 3, 1, 2).validation_score));
  // Validation that never visits state 1 cannot pin the second eigenvector: NaN.
  EXPECT_TRUE(std::isnan(analysis::gmrq(train, {{0, 0, 0, 0}}, 2, 1, 2).validation_score));
  EXPECT_NEAR(analysis::gmrq(train, {{0, 0, 0, 0}}, 2, 1, 1).validation_score, 1.0, 1e-12);
}

TEST(MetricsGmrq, BadInputsAreNamed) {
  const Trajectories ok = {{0, 1, 0, 1, 1}};
  testing::expect_invalid_argument([&] { analysis::gmrq(ok, ok, 2, 0, 1); }, "lag");
  testing::expect_invalid_argument([&] { analysis::gmrq(ok, ok, 0, 1, 1); }, "num_states");
  testing::expect_invalid_argument([&] { analysis::gmrq({{0, 1}, {1, 0, 1}}, ok, 2, 3, 1); }, "train_trajectories");
  testing::expect_invalid_argument([&] { analysis::gmrq(ok, {{0, 1}}, 2, 2, 1); }, "validation_trajectories");
  testing::expect_invalid_argument([&] { analysis::gmrq(ok, Trajectories{}, 2, 1, 1); }, "validation_trajectories");
  testing::expect_invalid_argument([&] { analysis::gmrq({{0, 1, 2}}, ok, 2, 1, 1); }, "train_trajectories[0][2]");
  testing::expect_invalid_argument([&] { analysis::gmrq(ok, {{0, -1, 0}}, 2, 1, 1); }, "validation_trajectories[0][1]");
  testing::expect_invalid_argument([&] { analysis::gmrq(ok, ok, 2, 1, 0); }, "rank");
  testing::expect_invalid_argument([&] { analysis::gmrq(ok, ok, 2, 1, 3); }, "rank");
}

// ---------------------------------------------------------------- populations

TEST(MetricsPopulations, HandComputedBlocks) {
  // Blocks [0 0] and [1 1]: fractions (1, 0, 0) and (0, 1, 0): standard error ½ on states 0 and 1.
  const analysis::Populations p = analysis::state_populations({0, 0, 1, 1}, 3, nullptr, 2);
  EXPECT_EQ(p.mean, (std::vector<double>{0.5, 0.5, 0.0}));
  EXPECT_NEAR(p.error[0], 0.5, 1e-15);
  EXPECT_NEAR(p.error[1], 0.5, 1e-15);
  EXPECT_EQ(p.error[2], 0.0);
}

TEST(MetricsPopulations, WeightedFractions) {
  const std::vector<float> weights = {1, 3, 0, 4, 2};
  const analysis::Populations p = analysis::state_populations({0, 1, 1, 2, 0}, 3, &weights, 2);
  EXPECT_NEAR(p.mean[0], 0.3, 1e-15);
  EXPECT_NEAR(p.mean[1], 0.3, 1e-15);
  EXPECT_NEAR(p.mean[2], 0.4, 1e-15);
  // Blocks [0 1] (weights 1, 3) and [1 2 0] (weights 0, 4, 2): state 0 has fractions ¼ and ⅓.
  EXPECT_NEAR(p.error[0], std::abs(0.25 - 1.0 / 3) / 2, 1e-15);
}

TEST(MetricsPopulations, IndependentLabelsGiveBinomialErrors) {
  const std::size_t n = 100000;
  const double truth[3] = {0.5, 0.3, 0.2};
  std::vector<std::int64_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double u = uniform(61, 0, i);
    labels[i] = u < 0.5 ? 0 : u < 0.8 ? 1 : 2;
  }
  const analysis::Populations p = analysis::state_populations(labels, 3, nullptr, 20);
  for (int k = 0; k < 3; ++k) {
    const double binomial = std::sqrt(truth[k] * (1 - truth[k]) / n);
    EXPECT_NEAR(p.mean[k], truth[k], 5 * binomial) << "state " << k;
    EXPECT_GT(p.error[k], 0.5 * binomial) << "state " << k;
    EXPECT_LT(p.error[k], 2.0 * binomial) << "state " << k;
  }
}

TEST(MetricsPopulations, BadInputsAreNamed) {
  const std::vector<float> two = {1, 1}, zeros = {0, 0, 0};
  testing::expect_invalid_argument([] { analysis::state_populations({0, 1, 3}, 3, nullptr, 2); }, "labels[2]");
  testing::expect_invalid_argument([] { analysis::state_populations({0, -1, 1}, 3, nullptr, 2); }, "labels[1]");
  testing::expect_invalid_argument([] { analysis::state_populations({0, 1, 1}, 0, nullptr, 2); }, "num_states");
  testing::expect_invalid_argument([&] { analysis::state_populations({0, 1, 1}, 2, &two, 2); }, "weights");
  testing::expect_invalid_argument([&] { analysis::state_populations({0, 1, 1}, 2, &zeros, 2); }, "weights");
  testing::expect_invalid_argument([] { analysis::state_populations({0, 1, 1}, 2, nullptr, 1); }, "blocks");
  testing::expect_invalid_argument([] { analysis::state_populations({0, 1}, 2, nullptr, 3); }, "blocks");
}

}  // namespace
}  // namespace latf
