#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/tilted.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

constexpr double kPi = 3.141592653589793;

// ---------------------------------------------------------------------------------------------
// Independent references, by quadrature of the radial density (not through ₁F₁).

// Mode of p(r) ∝ r^{d−1}·exp(τr − r²/(2T')); p decays at least like a Gaussian of sd √T' from it.
double radial_mode(double tau, int d, double t) {
  const double m = tau * t;
  return 0.5 * (m + std::sqrt(m * m + 4.0 * (d - 1) * t));
}

double log_radial_kernel(double r, double tau, int d, double t) {
  return (d > 1 ? (d - 1) * std::log(r) : 0.0) + tau * r - r * r / (2.0 * t);
}

// log Z = log[S_{d−1}·∫₀^∞ r^{d−1} e^{τr − r²/(2T')} dr] − (d/2)·log(2πT'), S_{d−1} = 2π^{d/2}/Γ(d/2)
// (S_0 = 2 turns the d = 1 half-line integral into the one over the real line). Composite
// Simpson over mode ± 40 sd, with the integrand shifted by its maximum.
double log_partition_by_quadrature(double tau, int d, double t) {
  const double mode = radial_mode(tau, d, t), sd = std::sqrt(t);
  const double lo = std::max(0.0, mode - 40 * sd), hi = mode + 40 * sd;
  const double peak = log_radial_kernel(mode, tau, d, t);
  const int intervals = 40000;
  const double h = (hi - lo) / intervals;
  double sum = 0.0;
  for (int k = 0; k <= intervals; ++k) {
    const double r = lo + k * h;
    const double weight = (k == 0 || k == intervals) ? 1.0 : (k % 2 == 1 ? 4.0 : 2.0);
    if (r > 0.0 || d == 1) sum += weight * std::exp(log_radial_kernel(r, tau, d, t) - peak);
  }
  const double log_sphere = std::log(2.0) + 0.5 * d * std::log(kPi) - std::lgamma(0.5 * d);
  return log_sphere + peak + std::log(sum * h / 3.0) - 0.5 * d * std::log(2.0 * kPi * t);
}

// The exact radial law on a fine grid: CDF by the trapezoid rule, mean and variance.
struct RadialLaw {
  double lo = 0.0, h = 0.0;
  std::vector<double> cdf;
  double mean = 0.0, variance = 0.0;

  double operator()(double r) const {
    const double x = (r - lo) / h;
    if (x <= 0.0) return 0.0;
    const std::size_t k = static_cast<std::size_t>(x);
    if (k + 1 >= cdf.size()) return 1.0;
    return cdf[k] + (x - k) * (cdf[k + 1] - cdf[k]);
  }
};

RadialLaw radial_law(double tau, int d, double t) {
  const double mode = radial_mode(tau, d, t), sd = std::sqrt(t);
  RadialLaw law;
  law.lo = std::max(0.0, mode - 16 * sd);
  const double hi = mode + 16 * sd;
  const int intervals = 200000;
  law.h = (hi - law.lo) / intervals;
  const double peak = log_radial_kernel(mode, tau, d, t);
  std::vector<double> density(intervals + 1);
  for (int k = 0; k <= intervals; ++k) {
    const double r = law.lo + k * law.h;
    density[k] = (r > 0.0 || d == 1) ? std::exp(log_radial_kernel(r, tau, d, t) - peak) : 0.0;
  }
  law.cdf.assign(intervals + 1, 0.0);
  double m0 = 0.0, m1 = 0.0, m2 = 0.0;
  for (int k = 0; k < intervals; ++k) {
    const double r0 = law.lo + k * law.h, r1 = r0 + law.h;
    law.cdf[k + 1] = law.cdf[k] + 0.5 * law.h * (density[k] + density[k + 1]);
    m0 += 0.5 * law.h * (density[k] + density[k + 1]);
    m1 += 0.5 * law.h * (r0 * density[k] + r1 * density[k + 1]);
    m2 += 0.5 * law.h * (r0 * r0 * density[k] + r1 * r1 * density[k + 1]);
  }
  for (double& c : law.cdf) c /= m0;
  law.mean = m1 / m0;
  law.variance = m2 / m0 - law.mean * law.mean;
  return law;
}

// τ‖z‖ − ½·b·‖z‖² − c in double, row by row.
std::vector<double> reference_log_density(const Tensor& z, const Tensor& b, const Tensor& c, double tau) {
  const auto zs = z.to_double_vector(), bs = b.to_double_vector();
  const std::vector<double> cs = c.defined() ? c.to_double_vector() : std::vector<double>(z.dim(0), 0.0);
  const std::int64_t n = z.dim(0), d = z.dim(1);
  std::vector<double> out(n);
  for (std::int64_t i = 0; i < n; ++i) {
    double sq = 0.0;
    for (std::int64_t j = 0; j < d; ++j) sq += zs[i * d + j] * zs[i * d + j];
    out[i] = tau * std::sqrt(sq) - 0.5 * bs[i] * sq - cs[i];
  }
  return out;
}

// Coordinates of magnitude in [0.2, 1] with random signs: every row is far from z = 0.
Tensor away_from_origin(const Shape& shape, std::uint64_t seed) {
  std::vector<double> u = testing::random_tensor(shape, seed, -1.0, 1.0, DType::Float64).to_double_vector();
  for (double& v : u) v = (v < 0 ? -1.0 : 1.0) * (0.2 + 0.8 * std::abs(v));
  return Tensor::from_vector(u, shape);
}

// ---------------------------------------------------------------------------------------------
// log Z

struct TableRow {
  double tau, t;
  int d;
  double log_z;
  const char* name;
};

class TiltedPartitionTable : public ::testing::TestWithParam<TableRow> {};

TEST_P(TiltedPartitionTable, MatchesMethodTable) {
  const TableRow row = GetParam();
  const double got = kernels::tilted_log_partition(row.tau, row.d, row.t);
  EXPECT_NEAR(got, row.log_z, 1e-6 * std::max(1.0, std::abs(row.log_z)));
  EXPECT_NEAR(got, log_partition_by_quadrature(row.tau, row.d, row.t), 1e-11 * std::max(1.0, std::abs(got)));
}

INSTANTIATE_TEST_SUITE_P(
    MethodMd, TiltedPartitionTable,
    ::testing::Values(TableRow{0, 1, 2, 0.0, "tau0_T1"}, TableRow{2, 1, 2, 3.616322, "tau2_T1"},
                      TableRow{2, 2.5, 2, 7.070298, "tau2_T2p5"}, TableRow{2, 3.5, 2, 9.238473, "tau2_T3p5"},
                      TableRow{3, 1, 2, 6.517678, "tau3_T1"}, TableRow{3, 2, 2, 11.364125, "tau3_T2"},
                      TableRow{5, 1, 2, 15.028376, "tau5_T1"}, TableRow{3, 1, 3, 7.495712, "tau3_T1_d3"}),
    [](const ::testing::TestParamInfo<TableRow>& info) { return std::string(info.param.name); });

struct QuadratureCase {
  double tau, t;
  int d;
};

class TiltedPartitionQuadrature : public ::testing::TestWithParam<QuadratureCase> {};

// Large τ²T' (₁F₁ ~ e^{τ²T'/2} far beyond double range) and small ones, against quadrature.
TEST_P(TiltedPartitionQuadrature, MatchesRadialIntegral) {
  const QuadratureCase c = GetParam();
  const double got = kernels::tilted_log_partition(c.tau, c.d, c.t);
  const double expected = log_partition_by_quadrature(c.tau, c.d, c.t);
  ASSERT_TRUE(std::isfinite(got));
  EXPECT_NEAR(got, expected, 1e-11 * std::max(1.0, std::abs(expected)));
}

std::vector<QuadratureCase> quadrature_cases() {
  std::vector<QuadratureCase> cases;
  for (int d : {1, 2, 3, 8, 20})
    for (auto [tau, t] : {std::pair{5.0, 50.0}, std::pair{10.0, 100.0}, std::pair{0.3, 0.2}, std::pair{1.0, 7.0}})
      cases.push_back({tau, t, d});
  cases.push_back({50.0, 1e4, 2});  // x = 1.25·10⁷
  cases.push_back({1e-6, 1.0, 4});
  return cases;
}

std::string decimal_name(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.') s.pop_back();
  for (char& ch : s)
    if (ch == '.') ch = 'p';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Grid, TiltedPartitionQuadrature, ::testing::ValuesIn(quadrature_cases()),
                         [](const ::testing::TestParamInfo<QuadratureCase>& info) {
                           return "d" + std::to_string(info.param.d) + "_tau" + decimal_name(info.param.tau) +
                                  "_T" + decimal_name(info.param.t);
                         });

TEST(TiltedPartition, ZeroTiltGivesZero) {
  for (int d : {1, 2, 5, 64})
    for (double t : {0.01, 1.0, 300.0}) EXPECT_EQ(kernels::tilted_log_partition(0.0, d, t), 0.0) << d << " " << t;
}

TEST(TiltedPartition, NormalizerAddsGaussianConstant) {
  const double tau = 2.0, t = 3.5;
  const int d = 3;
  EXPECT_NEAR(kernels::tilted_log_normalizer(tau, d, t),
              1.5 * std::log(2 * kPi * t) + kernels::tilted_log_partition(tau, d, t), 1e-12);
}

TEST(TiltedPartition, RejectsBadParametersNamingThem) {
  testing::expect_invalid_argument([] { kernels::tilted_log_partition(-0.5, 2, 1.0); }, "tau");
  testing::expect_invalid_argument([] { kernels::tilted_log_partition(-0.5, 2, 1.0); }, "-0.5");
  testing::expect_invalid_argument([] { kernels::tilted_log_partition(NAN, 2, 1.0); }, "tau");
  testing::expect_invalid_argument([] { kernels::tilted_log_partition(1.0, 2, 0.0); }, "T'");
  testing::expect_invalid_argument([] { kernels::tilted_log_partition(1.0, 2, -3.0); }, "-3");
  testing::expect_invalid_argument([] { kernels::tilted_log_partition(1.0, 2, INFINITY); }, "T'");
  testing::expect_invalid_argument([] { kernels::tilted_log_partition(1.0, 0, 1.0); }, "dimension");
  testing::expect_invalid_argument([] { kernels::tilted_log_normalizer(1.0, 2, 0.0); }, "tilted_log_normalizer");
}

// ---------------------------------------------------------------------------------------------
// Density op

struct DensityCase {
  std::int64_t n, d;
  float tau;
  const char* name;
};

class TiltedDensity : public ::testing::TestWithParam<DensityCase> {};

TEST_P(TiltedDensity, ForwardMatchesDoubleReference) {
  const DensityCase c = GetParam();
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Tensor z = testing::random_tensor({c.n, c.d}, 1, -2.0, 2.0, dtype);
    Tensor b = testing::random_tensor({c.n}, 2, 0.25, 4.0, dtype);
    Tensor cn = testing::random_tensor({c.n}, 3, -3.0, 3.0, dtype);
    for (bool with_c : {true, false}) {
      const Tensor cc = with_c ? cn : Tensor();
      Tensor out = Tensor::empty({c.n}, Device::cpu(), dtype);
      kernels::tilted_log_density_forward(z, b, cc, c.tau, out);
      const double tol = dtype == DType::Float32 ? 2e-6 : 1e-13;
      EXPECT_LT(testing::max_relative_error(out.to_double_vector(), reference_log_density(z, b, cc, c.tau)), tol)
          << dtype_name(dtype) << " with_c=" << with_c;
    }
  }
}

TEST_P(TiltedDensity, GradientOfZMatchesFiniteDifferences) {
  const DensityCase c = GetParam();
  const Tensor z = away_from_origin({c.n, c.d}, 4);
  const Tensor b = testing::random_tensor({c.n}, 5, 0.25, 4.0, DType::Float64);
  const Tensor cn = testing::random_tensor({c.n}, 6, -3.0, 3.0, DType::Float64);
  const float tau = c.tau;
  autodiff::GradientCheckOptions options;
  options.differentiable = {true, false, false};
  auto with_c = [tau](autodiff::Tape& tape, const std::vector<autodiff::Var>& in) {
    return std::vector<autodiff::Var>{autodiff::tilted_log_density(tape, in[0], in[1], in[2], tau)};
  };
  auto result = autodiff::check_gradients(with_c, {z, b, cn}, options);
  EXPECT_TRUE(result.passed) << result.report;
  options.differentiable = {true, false};
  auto without_c = [tau](autodiff::Tape& tape, const std::vector<autodiff::Var>& in) {
    return std::vector<autodiff::Var>{autodiff::tilted_log_density(tape, in[0], in[1], autodiff::Var{}, tau)};
  };
  result = autodiff::check_gradients(without_c, {z, b}, options);
  EXPECT_TRUE(result.passed) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Shapes, TiltedDensity,
                         ::testing::Values(DensityCase{1, 1, 2.f, "batch1_d1"}, DensityCase{1, 2, 3.f, "batch1_d2"},
                                           DensityCase{7, 3, 0.f, "n7_d3_tau0"}, DensityCase{33, 2, 2.f, "n33_d2"},
                                           DensityCase{19, 8, 5.f, "n19_d8"}, DensityCase{5, 17, 1.5f, "n5_d17"}),
                         [](const ::testing::TestParamInfo<DensityCase>& info) { return std::string(info.param.name); });

TEST(TiltedDensity, NormalizedDensityMatchesLogR) {
  const double tau = 2.0;
  const std::vector<double> temps = {0.5, 1.0, 3.5};
  Tensor z = testing::random_tensor({3, 2}, 7, -3.0, 3.0, DType::Float64);
  std::vector<double> bs, cs;
  for (double t : temps) {
    bs.push_back(1.0 / t);
    cs.push_back(kernels::tilted_log_normalizer(tau, 2, t));
  }
  Tensor out = Tensor::empty({3}, Device::cpu(), DType::Float64);
  kernels::tilted_log_density_forward(z, Tensor::from_vector(bs, {3}), Tensor::from_vector(cs, {3}), float(tau), out);
  const auto zs = z.to_double_vector(), os = out.to_double_vector();
  for (int i = 0; i < 3; ++i) {
    const double sq = zs[2 * i] * zs[2 * i] + zs[2 * i + 1] * zs[2 * i + 1], t = temps[i];
    const double log_r = tau * std::sqrt(sq) - sq / (2 * t) - std::log(2 * kPi * t) - log_partition_by_quadrature(tau, 2, t);
    EXPECT_NEAR(os[i], log_r, 1e-9);
  }
}

struct GridCase {
  double tau, t;
  const char* name;
};

class TiltedDensityIntegral : public ::testing::TestWithParam<GridCase> {};

// ∫ r(z) dz over ℝ² by the midpoint rule on a grid covering the ring ± 12 sd.
TEST_P(TiltedDensityIntegral, IntegratesToOne) {
  const GridCase c = GetParam();
  const double half = c.tau * c.t + 12 * std::sqrt(c.t);
  const int cells = 1200;
  const double h = 2 * half / cells;
  const std::int64_t n = std::int64_t(cells) * cells;
  std::vector<double> zs(2 * n);
  for (int a = 0; a < cells; ++a)
    for (int k = 0; k < cells; ++k) {
      zs[2 * (std::int64_t(a) * cells + k)] = -half + (a + 0.5) * h;
      zs[2 * (std::int64_t(a) * cells + k) + 1] = -half + (k + 0.5) * h;
    }
  Tensor b = Tensor::full({n}, 1.0 / c.t, Device::cpu(), DType::Float64);
  Tensor cn = Tensor::full({n}, kernels::tilted_log_normalizer(c.tau, 2, c.t), Device::cpu(), DType::Float64);
  Tensor out = Tensor::empty({n}, Device::cpu(), DType::Float64);
  kernels::tilted_log_density_forward(Tensor::from_vector(zs, {n, 2}), b, cn, float(c.tau), out);
  double total = 0.0;
  for (double v : out.to_double_vector()) total += std::exp(v);
  EXPECT_NEAR(total * h * h, 1.0, 1e-8);
}

INSTANTIATE_TEST_SUITE_P(Grid, TiltedDensityIntegral,
                         ::testing::Values(GridCase{3.0, 1.0, "tau3_T1"}, GridCase{2.0, 3.5, "tau2_T3p5"}),
                         [](const ::testing::TestParamInfo<GridCase>& info) { return std::string(info.param.name); });

// At z = 0 the τ term takes the subgradient 0: the gradient is exactly −b·z = 0, never NaN.
TEST(TiltedDensity, GradientAtOriginIsFiniteAndZero) {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const std::int64_t d = 3;
    const double tiny = dtype == DType::Float64 ? 1e-40 : 1e-25;  // squares underflow or fall below the guard
    std::vector<double> zv = {0, 0, 0, tiny, -tiny, tiny, 0.5, -1.0, 2.0};
    Tensor z = Tensor::from_vector(zv, {3, d}).to(dtype);
    Tensor b = Tensor::from_vector(std::vector<double>{2.0, 3.0, 0.5}, {3}).to(dtype);
    Tensor c = Tensor::from_vector(std::vector<double>{0.25, -1.0, 0.0}, {3}).to(dtype);
    Tensor dout = Tensor::from_vector(std::vector<double>{1.5, -2.0, 1.0}, {3}).to(dtype);
    autodiff::Tape tape;
    autodiff::Var zvar = tape.variable(z);
    autodiff::Var out = autodiff::tilted_log_density(tape, zvar, tape.constant(b), tape.constant(c), 4.f);
    const auto values = tape.value(out).to_double_vector();
    EXPECT_EQ(values[0], -0.25);
    EXPECT_NEAR(values[1], 1.0, 1e-6);
    tape.backward(out, dout);
    const auto g = tape.grad(zvar).to_double_vector();
    for (std::int64_t j = 0; j < d; ++j) {
      EXPECT_EQ(g[j], 0.0) << dtype_name(dtype) << " component " << j;
      EXPECT_TRUE(std::isfinite(g[d + j]));
      EXPECT_NEAR(g[d + j], -2.0 * -3.0 * z.to_double_vector()[d + j], 1e-6 * tiny) << dtype_name(dtype);
    }
  }
}

TEST(TiltedDensity, BackwardAccumulatesAndSkipsUndefinedGradient) {
  Tensor z = away_from_origin({4, 2}, 8);
  Tensor b = testing::random_tensor({4}, 9, 0.5, 2.0, DType::Float64);
  Tensor dout = testing::random_tensor({4}, 10, -1.0, 1.0, DType::Float64);
  Tensor once = Tensor::zeros({4, 2}, Device::cpu(), DType::Float64);
  kernels::tilted_log_density_backward(z, b, 2.f, dout, once);
  Tensor twice = once.clone();
  kernels::tilted_log_density_backward(z, b, 2.f, dout, twice);
  const auto a = once.to_double_vector(), t = twice.to_double_vector();
  for (std::size_t k = 0; k < a.size(); ++k) EXPECT_DOUBLE_EQ(t[k], 2 * a[k]);
  Tensor none;
  EXPECT_NO_THROW(kernels::tilted_log_density_backward(z, b, 2.f, dout, none));
}

TEST(TiltedDensity, OnlyZIsRecorded) {
  autodiff::Tape tape;
  autodiff::Var z = tape.constant(Tensor::zeros({2, 2}));
  autodiff::Var b = tape.variable(Tensor::full({2}, 1.0));
  autodiff::tilted_log_density(tape, z, b, autodiff::Var{}, 1.f);
  EXPECT_EQ(tape.node_count(), 0u);
  autodiff::Var zv = tape.variable(Tensor::zeros({2, 2}));
  {
    autodiff::NoGradGuard guard(tape);
    autodiff::tilted_log_density(tape, zv, b, autodiff::Var{}, 1.f);
  }
  EXPECT_EQ(tape.node_count(), 0u);
  autodiff::tilted_log_density(tape, zv, b, autodiff::Var{}, 1.f);
  EXPECT_EQ(tape.node_count(), 1u);
}

TEST(TiltedDensity, RejectsBadOperandsNamingThem) {
  Tensor z = Tensor::zeros({4, 2}), b = Tensor::full({4}, 1.0), c = Tensor::zeros({4}), out = Tensor::zeros({4});
  Tensor dz = Tensor::zeros({4, 2});
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(Tensor::zeros({4}), b, c, 1.f, out); }, "input z");
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(Tensor::zeros({4, 0}), b, c, 1.f, out); }, "input z");
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(z, Tensor::full({5}, 1.0), c, 1.f, out); },
                        "inverse_temperature");
  testing::expect_invalid_argument(
      [&] { kernels::tilted_log_density_forward(z, Tensor::full({4}, 1.0, Device::cpu(), DType::Float64), c, 1.f, out); },
      "inverse_temperature");
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(z, b, Tensor::zeros({4, 1}), 1.f, out); },
                        "log_normalizer");
  Tensor bad_out = Tensor::zeros({3});
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(z, b, c, 1.f, bad_out); }, "output");
  Tensor undefined_out;
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(z, b, c, 1.f, undefined_out); }, "output");
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(z, b, c, NAN, out); }, "tau");
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_backward(z, b, 1.f, Tensor::zeros({2}), dz); }, "dout");
  Tensor bad_dz = Tensor::zeros({4, 3});
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_backward(z, b, 1.f, out, bad_dz); }, "dz");
}

// ---------------------------------------------------------------------------------------------
// Sampler

struct SampleCase {
  int d;
  double tau, t;
};

std::string sample_case_name(const ::testing::TestParamInfo<SampleCase>& info) {
  return "d" + std::to_string(info.param.d) + "_tau" + decimal_name(info.param.tau) + "_T" +
         decimal_name(info.param.t);
}

class TiltedSampler : public ::testing::TestWithParam<SampleCase> {};

// Radii against the exact radial law (mean within 5 standard errors; Kolmogorov–Smirnov at the
// 0.1 % level), directions centred.
TEST_P(TiltedSampler, MatchesExactRadialLaw) {
  const SampleCase c = GetParam();
  const std::int64_t n = 20000;
  Tensor z = Tensor::empty({n, c.d});
  kernels::tilted_sample(z, c.tau, c.t, 2024, 3);
  const auto zs = z.to_double_vector();
  std::vector<double> radii(n), direction_sum(c.d, 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    double sq = 0.0;
    for (int j = 0; j < c.d; ++j) sq += zs[i * c.d + j] * zs[i * c.d + j];
    radii[i] = std::sqrt(sq);
    ASSERT_GT(radii[i], 0.0) << "row " << i;
    for (int j = 0; j < c.d; ++j) direction_sum[j] += zs[i * c.d + j] / radii[i];
  }
  const RadialLaw law = radial_law(c.tau, c.d, c.t);
  double mean = 0.0;
  for (double r : radii) mean += r / n;
  EXPECT_LT(std::abs(mean - law.mean), 5 * std::sqrt(law.variance / n)) << "exact mean " << law.mean;

  std::sort(radii.begin(), radii.end());
  double ks = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double f = law(radii[i]);
    ks = std::max({ks, std::abs(f - double(i) / n), std::abs(f - double(i + 1) / n)});
  }
  EXPECT_LT(ks, 1.95 / std::sqrt(double(n)));

  // Each coordinate of a uniform unit vector has mean 0 and variance 1/d.
  for (int j = 0; j < c.d; ++j)
    EXPECT_LT(std::abs(direction_sum[j] / n), 5 * std::sqrt(1.0 / (c.d * double(n)))) << "component " << j;
}

std::vector<SampleCase> sample_cases() {
  std::vector<SampleCase> cases;
  for (int d : {1, 2, 3, 8})
    for (auto [tau, t] : {std::pair{0.0, 1.0}, std::pair{2.0, 3.5}, std::pair{3.0, 0.25}, std::pair{10.0, 2.0}})
      cases.push_back({d, tau, t});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Grid, TiltedSampler, ::testing::ValuesIn(sample_cases()), sample_case_name);

TEST(TiltedSampler, DeterministicPerSeedStreamAndRow) {
  Tensor a = Tensor::empty({100, 3}), b = Tensor::empty({100, 3}), other_stream = Tensor::empty({100, 3}),
         other_seed = Tensor::empty({100, 3}), prefix = Tensor::empty({7, 3});
  kernels::tilted_sample(a, 2.0, 1.5, 5, 1);
  kernels::tilted_sample(b, 2.0, 1.5, 5, 1);
  kernels::tilted_sample(other_stream, 2.0, 1.5, 5, 2);
  kernels::tilted_sample(other_seed, 2.0, 1.5, 6, 1);
  kernels::tilted_sample(prefix, 2.0, 1.5, 5, 1);
  const auto av = a.to_vector(), bv = b.to_vector(), sv = other_stream.to_vector(), kv = other_seed.to_vector(),
             pv = prefix.to_vector();
  EXPECT_EQ(av, bv);
  int same_stream = 0, same_seed = 0;
  for (std::size_t k = 0; k < av.size(); ++k) {
    same_stream += av[k] == sv[k];
    same_seed += av[k] == kv[k];
  }
  EXPECT_EQ(same_stream, 0);
  EXPECT_EQ(same_seed, 0);
  EXPECT_TRUE(std::equal(pv.begin(), pv.end(), av.begin()));  // row i depends on (seed, stream, i) only
}

TEST(TiltedSampler, Float64AgreesWithFloat32) {
  Tensor f32 = Tensor::empty({257, 5});
  Tensor f64 = Tensor::empty({257, 5}, Device::cpu(), DType::Float64);
  kernels::tilted_sample(f32, 1.0, 2.0, 9, 4);
  kernels::tilted_sample(f64, 1.0, 2.0, 9, 4);
  EXPECT_LT(testing::max_relative_error(f32, f64), 1e-6);
}

TEST(TiltedSampler, RejectsBadArgumentsNamingThem) {
  Tensor z = Tensor::empty({4, 2});
  testing::expect_invalid_argument([&] { kernels::tilted_sample(z, -1.0, 1.0, 0, 0); }, "tau");
  testing::expect_invalid_argument([&] { kernels::tilted_sample(z, 1.0, 0.0, 0, 0); }, "T'");
  testing::expect_invalid_argument([&] { kernels::tilted_sample(z, 1.0, NAN, 0, 0); }, "T'");
  Tensor flat = Tensor::empty({4});
  testing::expect_invalid_argument([&] { kernels::tilted_sample(flat, 1.0, 1.0, 0, 0); }, "output z");
  testing::expect_invalid_argument([&] { kernels::tilted_sample(z, 1e200, 1e200, 0, 0); }, "double range");
  Tensor empty_rows = Tensor::empty({0, 2});
  EXPECT_NO_THROW(kernels::tilted_sample(empty_rows, 1.0, 1.0, 0, 0));
}

}  // namespace
}  // namespace latf
