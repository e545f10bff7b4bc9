#include <cmath>
#include <string>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/gaussian.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::Tape;
using autodiff::Var;

// ---------------------------------------------------------------- independent double references

std::vector<double> values(const Tensor& t) { return t.to_double_vector(); }

// log_variance element (i, j) of a [1] or [rows, d] tensor's values.
double lv_at(const std::vector<double>& lv, std::int64_t i, std::int64_t j, std::int64_t d) {
  return lv.size() == 1 ? lv[0] : lv[i * d + j];
}

std::vector<double> reference_reparameterize(const Tensor& mean, const Tensor& lv, const Tensor& noise) {
  const auto m = values(mean), l = values(lv), e = values(noise);
  const std::int64_t d = mean.dim(1);
  std::vector<double> u(m.size());
  for (std::size_t i = 0; i < m.size(); ++i) u[i] = m[i] + std::sqrt(std::exp(lv_at(l, i / d, i % d, d))) * e[i];
  return u;
}

// Σ_j log N(u_j; μ_j, σ²_j) + (1/2) log 2π per element, written as −½ log σ² − (u − μ)²/(2σ²).
double reference_row(const std::vector<double>& u, std::int64_t u_row, const std::vector<double>& mean,
                     std::int64_t mean_row, const std::vector<double>& lv, std::int64_t lv_row, std::int64_t d) {
  double total = 0.0;
  for (std::int64_t j = 0; j < d; ++j) {
    const double variance = std::exp(lv_at(lv, lv_row, j, d));
    const double diff = u[u_row * d + j] - mean[mean_row * d + j];
    total += -0.5 * std::log(variance) - diff * diff / (2.0 * variance);
  }
  return total;
}

std::vector<double> reference_gaussian(const Tensor& u, const Tensor& mean, const Tensor& lv) {
  const auto uv = values(u), m = values(mean), l = values(lv);
  std::vector<double> out(u.dim(0));
  for (std::int64_t i = 0; i < u.dim(0); ++i) out[i] = reference_row(uv, i, m, i, l, i, u.dim(1));
  return out;
}

// Two-pass log-sum-exp over explicitly stored component terms.
double reference_lse(const std::vector<double>& a) {
  double top = a[0];
  for (double v : a) top = std::max(top, v);
  double sum = 0.0;
  for (double v : a) sum += std::exp(v - top);
  return top + std::log(sum);
}

std::vector<double> reference_vamp(const Tensor& u, const Tensor& means, const Tensor& lv, const Tensor& logits) {
  const auto uv = values(u), m = values(means), l = values(lv), w = values(logits);
  const std::int64_t k_count = means.dim(0), d = u.dim(1);
  const double log_z = reference_lse(w);
  std::vector<double> out(u.dim(0)), a(k_count);
  for (std::int64_t i = 0; i < u.dim(0); ++i) {
    for (std::int64_t k = 0; k < k_count; ++k) a[k] = w[k] - log_z + reference_row(uv, i, m, k, l, k, d);
    out[i] = reference_lse(a);
  }
  return out;
}

double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const double e = std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i]));
    worst = std::isfinite(e) ? std::max(worst, e) : INFINITY;
  }
  return worst;
}

Tensor log_variance_for(bool scalar, std::int64_t rows, std::int64_t d, std::uint64_t seed, DType dtype) {
  if (scalar) return Tensor::full({1}, 0.3, Device::cpu(), dtype);
  return testing::random_tensor({rows, d}, seed, -0.7, 0.7, dtype);
}

// ---------------------------------------------------------------- reparameterize and gaussian log-density

struct RowCase {
  std::int64_t n, d;
  bool scalar_lv;
};

std::string row_case_name(const ::testing::TestParamInfo<RowCase>& info) {
  return "N" + std::to_string(info.param.n) + "_d" + std::to_string(info.param.d) +
         (info.param.scalar_lv ? "_scalarLV" : "_elementLV");
}

class GaussianRowTest : public ::testing::TestWithParam<RowCase> {};

TEST_P(GaussianRowTest, ReparameterizeForwardMatchesReference) {
  const RowCase c = GetParam();
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Tensor mean = testing::random_tensor({c.n, c.d}, 1, -1.5, 1.5, dtype);
    Tensor lv = log_variance_for(c.scalar_lv, c.n, c.d, 2, dtype);
    Tensor noise = testing::random_tensor({c.n, c.d}, 3, -2, 2, dtype);
    Tensor u = Tensor::empty({c.n, c.d}, Device::cpu(), dtype);
    kernels::reparameterize_forward(mean, lv, noise, u);
    EXPECT_LT(max_abs_difference(values(u), reference_reparameterize(mean, lv, noise)),
              dtype == DType::Float32 ? 1e-6 : 1e-14);
  }
}

TEST_P(GaussianRowTest, GaussianForwardMatchesReference) {
  const RowCase c = GetParam();
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Tensor u = testing::random_tensor({c.n, c.d}, 4, -1.5, 1.5, dtype);
    Tensor mean = testing::random_tensor({c.n, c.d}, 5, -1.5, 1.5, dtype);
    Tensor lv = log_variance_for(c.scalar_lv, c.n, c.d, 6, dtype);
    Tensor out = Tensor::empty({c.n}, Device::cpu(), dtype);
    kernels::gaussian_log_density_forward(u, mean, lv, out);
    EXPECT_LT(max_abs_difference(values(out), reference_gaussian(u, mean, lv)), dtype == DType::Float32 ? 1e-5 : 1e-13);
  }
}

TEST_P(GaussianRowTest, ReparameterizeGradientsMatchFiniteDifferences) {
  const RowCase c = GetParam();
  auto f = [](Tape& tape, const std::vector<Var>& in) {
    return std::vector<Var>{autodiff::reparameterize(tape, in[0], in[1], in[2])};
  };
  const std::vector<Tensor> inputs = {testing::random_tensor({c.n, c.d}, 7, -1.5, 1.5, DType::Float64),
                                      log_variance_for(c.scalar_lv, c.n, c.d, 8, DType::Float64),
                                      testing::random_tensor({c.n, c.d}, 9, -2, 2, DType::Float64)};
  autodiff::GradientCheckOptions options;
  options.differentiable = {true, true, false};
  const auto result = autodiff::check_gradients(f, inputs, options);
  EXPECT_TRUE(result.passed) << result.report;
}

TEST_P(GaussianRowTest, GaussianGradientsMatchFiniteDifferences) {
  const RowCase c = GetParam();
  auto f = [](Tape& tape, const std::vector<Var>& in) {
    return std::vector<Var>{autodiff::gaussian_log_density(tape, in[0], in[1], in[2])};
  };
  const std::vector<Tensor> inputs = {testing::random_tensor({c.n, c.d}, 10, -1.5, 1.5, DType::Float64),
                                      testing::random_tensor({c.n, c.d}, 11, -1.5, 1.5, DType::Float64),
                                      log_variance_for(c.scalar_lv, c.n, c.d, 12, DType::Float64)};
  const auto result = autodiff::check_gradients(f, inputs);
  EXPECT_TRUE(result.passed) << result.report;
}

// The reparameterised sample fed into its own density: the composition the KL term uses.
TEST_P(GaussianRowTest, ComposedSampleAndDensityGradientsMatchFiniteDifferences) {
  const RowCase c = GetParam();
  auto f = [](Tape& tape, const std::vector<Var>& in) {
    Var u = autodiff::reparameterize(tape, in[0], in[1], in[2]);
    return std::vector<Var>{autodiff::gaussian_log_density(tape, u, in[0], in[1])};
  };
  const std::vector<Tensor> inputs = {testing::random_tensor({c.n, c.d}, 13, -1.5, 1.5, DType::Float64),
                                      log_variance_for(c.scalar_lv, c.n, c.d, 14, DType::Float64),
                                      testing::random_tensor({c.n, c.d}, 15, -2, 2, DType::Float64)};
  autodiff::GradientCheckOptions options;
  options.differentiable = {true, true, false};
  const auto result = autodiff::check_gradients(f, inputs, options);
  EXPECT_TRUE(result.passed) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Shapes, GaussianRowTest,
                         ::testing::Values(RowCase{1, 1, true}, RowCase{1, 3, false}, RowCase{5, 2, true},
                                           RowCase{7, 3, false}, RowCase{13, 5, true}, RowCase{4, 17, false}),
                         row_case_name);

TEST(Gaussian, BackwardAccumulatesAndSkipsUndefinedGradients) {
  for (bool scalar : {true, false}) {
    Tensor u = testing::random_tensor({6, 3}, 20, -1, 1, DType::Float64);
    Tensor mean = testing::random_tensor({6, 3}, 21, -1, 1, DType::Float64);
    Tensor lv = log_variance_for(scalar, 6, 3, 22, DType::Float64);
    Tensor dout = testing::random_tensor({6}, 23, -1, 1, DType::Float64);
    Tensor du = Tensor::zeros(u.shape(), Device::cpu(), DType::Float64);
    Tensor dmean = Tensor::zeros(u.shape(), Device::cpu(), DType::Float64);
    Tensor dlv = Tensor::zeros(lv.shape(), Device::cpu(), DType::Float64);
    kernels::gaussian_log_density_backward(u, mean, lv, dout, du, dmean, dlv);
    Tensor du2 = du.clone(), dmean2 = dmean.clone(), dlv2 = dlv.clone();
    kernels::gaussian_log_density_backward(u, mean, lv, dout, du2, dmean2, dlv2);
    Tensor only_lv = Tensor::zeros(lv.shape(), Device::cpu(), DType::Float64), none;
    kernels::gaussian_log_density_backward(u, mean, lv, dout, none, none, only_lv);
    const auto g = values(du), g2 = values(du2), m = values(dmean), m2 = values(dmean2);
    for (std::size_t i = 0; i < g.size(); ++i) {
      EXPECT_DOUBLE_EQ(g2[i], 2 * g[i]);
      EXPECT_DOUBLE_EQ(m2[i], 2 * m[i]);
      EXPECT_DOUBLE_EQ(m[i], -g[i]);  // the density depends on u − μ only
    }
    const auto l = values(dlv), l2 = values(dlv2), lo = values(only_lv);
    for (std::size_t i = 0; i < l.size(); ++i) {
      EXPECT_DOUBLE_EQ(l2[i], 2 * l[i]);
      EXPECT_DOUBLE_EQ(lo[i], l[i]);
    }

    Tensor noise = testing::random_tensor({6, 3}, 24, -1, 1, DType::Float64);
    Tensor rdmean = Tensor::full(u.shape(), 1.0, Device::cpu(), DType::Float64);
    Tensor rdlv = Tensor::full(lv.shape(), 1.0, Device::cpu(), DType::Float64);
    kernels::reparameterize_backward(lv, noise, u, rdmean, rdlv);
    const auto rm = values(rdmean), uv = values(u);
    for (std::size_t i = 0; i < rm.size(); ++i) EXPECT_DOUBLE_EQ(rm[i], 1.0 + uv[i]);
  }
}

TEST(Gaussian, ReparameterizeNoiseGetsNoGradient) {
  Tape tape;
  Var mean = tape.variable(testing::random_tensor({3, 2}, 30, -1, 1, DType::Float64));
  Var lv = tape.variable(Tensor::full({1}, -0.4, Device::cpu(), DType::Float64));
  Var noise = tape.variable(testing::random_tensor({3, 2}, 31, -1, 1, DType::Float64));
  Var u = autodiff::reparameterize(tape, mean, lv, noise);
  tape.backward(u, Tensor::full({3, 2}, 1.0, Device::cpu(), DType::Float64));
  EXPECT_FALSE(tape.grad(noise).defined());
  ASSERT_TRUE(tape.grad(lv).defined());
  // Σ ½ σ ε with σ = exp(−0.2).
  double expected = 0.0;
  for (double e : values(tape.value(noise))) expected += 0.5 * std::exp(-0.2) * e;
  EXPECT_NEAR(tape.grad(lv).to_double_vector()[0], expected, 1e-14);
}

TEST(Gaussian, ExtremeLogVariancesStayFinite) {
  for (double level : {-30.0, 30.0}) {
    Tensor u = Tensor::from_vector(std::vector<float>{1e-3f, -2e-3f, 5.f, 0.f}, {2, 2});
    Tensor mean = Tensor::zeros({2, 2});
    Tensor lv = Tensor::full({1}, level);
    Tensor out = Tensor::empty({2});
    kernels::gaussian_log_density_forward(u, mean, lv, out);
    const auto ref = reference_gaussian(u, mean, lv);
    const auto got = values(out);
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_TRUE(std::isfinite(got[i])) << got[i];
      EXPECT_NEAR(got[i], ref[i], 1e-5 * std::max(1.0, std::abs(ref[i])));
    }
  }
}

TEST(Gaussian, RejectsBadShapesWithNames) {
  Tensor mean = Tensor::zeros({4, 3}), noise = Tensor::zeros({4, 3}), u = Tensor::zeros({4, 3});
  Tensor bad_lv = Tensor::zeros({4, 2}), out = Tensor::zeros({4});
  testing::expect_invalid_argument([&] { kernels::reparameterize_forward(mean, bad_lv, noise, u); }, "reparameterize log_variance");
  testing::expect_invalid_argument([&] { kernels::reparameterize_forward(mean, Tensor::zeros({3}), noise, u); },
                 "reparameterize log_variance: expected shape [1] or [4, 3], got [3]");
  testing::expect_invalid_argument([&] { kernels::reparameterize_forward(mean, Tensor::zeros({1}), Tensor::zeros({4, 2}), u); },
                 "reparameterize noise");
  testing::expect_invalid_argument([&] { kernels::reparameterize_forward(Tensor::zeros({12}), Tensor::zeros({1}), noise, u); },
                 "reparameterize mean: expected rank 2");
  Tensor du = Tensor::zeros({4, 3}), bad_dmean = Tensor::zeros({3, 4}), none;
  testing::expect_invalid_argument([&] { kernels::reparameterize_backward(Tensor::zeros({1}), noise, du, bad_dmean, none); },
                 "reparameterize mean gradient");
  testing::expect_invalid_argument([&] { kernels::gaussian_log_density_forward(u, Tensor::zeros({4, 2}), Tensor::zeros({1}), out); },
                 "gaussian_log_density mean");
  testing::expect_invalid_argument([&] { kernels::gaussian_log_density_forward(u, mean, bad_lv, out); },
                 "gaussian_log_density log_variance");
  Tensor short_out = Tensor::zeros({3});
  testing::expect_invalid_argument([&] { kernels::gaussian_log_density_forward(u, mean, Tensor::zeros({1}), short_out); },
                 "gaussian_log_density output");
  Tensor bad_dlv = Tensor::zeros({4, 3});
  testing::expect_invalid_argument(
      [&] { kernels::gaussian_log_density_backward(u, mean, Tensor::zeros({1}), out, du, none, bad_dlv); },
      "gaussian_log_density log_variance gradient");
  Tensor lv64 = Tensor::zeros({1}, Device::cpu(), DType::Float64);
  testing::expect_invalid_argument([&] { kernels::gaussian_log_density_forward(u, mean, lv64, out); },
                 "gaussian_log_density log_variance");
}

// ---------------------------------------------------------------- VampPrior

struct VampCase {
  std::int64_t n, d, k;
  bool scalar_lv;
};

std::string vamp_case_name(const ::testing::TestParamInfo<VampCase>& info) {
  return "N" + std::to_string(info.param.n) + "_d" + std::to_string(info.param.d) + "_K" +
         std::to_string(info.param.k) + (info.param.scalar_lv ? "_scalarLV" : "_componentLV");
}

struct VampInputs {
  Tensor u, means, lv, logits;
};

VampInputs vamp_inputs(const VampCase& c, std::uint64_t seed, DType dtype) {
  return {testing::random_tensor({c.n, c.d}, seed, -1.5, 1.5, dtype),
          testing::random_tensor({c.k, c.d}, seed + 1, -1.5, 1.5, dtype),
          log_variance_for(c.scalar_lv, c.k, c.d, seed + 2, dtype),
          testing::random_tensor({c.k}, seed + 3, -1, 1, dtype)};
}

class VampTest : public ::testing::TestWithParam<VampCase> {};

TEST_P(VampTest, ForwardMatchesReference) {
  const VampCase c = GetParam();
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const VampInputs in = vamp_inputs(c, 40, dtype);
    Tensor out = Tensor::empty({c.n}, Device::cpu(), dtype);
    kernels::vamp_log_density_forward(in.u, in.means, in.lv, in.logits, out);
    EXPECT_LT(max_abs_difference(values(out), reference_vamp(in.u, in.means, in.lv, in.logits)),
              dtype == DType::Float32 ? 1e-5 : 1e-13);
  }
}

TEST_P(VampTest, GradientsMatchFiniteDifferences) {
  const VampCase c = GetParam();
  auto f = [](Tape& tape, const std::vector<Var>& in) {
    return std::vector<Var>{autodiff::vamp_log_density(tape, in[0], in[1], in[2], in[3])};
  };
  const VampInputs in = vamp_inputs(c, 50, DType::Float64);
  const auto result = autodiff::check_gradients(f, {in.u, in.means, in.lv, in.logits});
  EXPECT_TRUE(result.passed) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Shapes, VampTest,
                         ::testing::Values(VampCase{1, 1, 1, true}, VampCase{1, 3, 4, false},
                                           VampCase{5, 2, 1, false}, VampCase{7, 3, 4, true},
                                           VampCase{13, 5, 2, false}, VampCase{6, 17, 3, true},
                                           VampCase{9, 2, 11, false}),
                         vamp_case_name);

TEST(Vamp, SingleComponentEqualsGaussianDensity) {
  for (bool scalar : {true, false}) {
    const VampCase c{6, 4, 1, scalar};
    const VampInputs in = vamp_inputs(c, 60, DType::Float64);
    // The same Gaussian written per row for gaussian_log_density.
    std::vector<double> m = values(in.means), l = values(in.lv), mean_rows, lv_rows;
    for (int i = 0; i < c.n; ++i) {
      mean_rows.insert(mean_rows.end(), m.begin(), m.end());
      lv_rows.insert(lv_rows.end(), l.begin(), l.end());
    }
    Tensor mean = Tensor::from_vector(mean_rows, {c.n, c.d});
    Tensor lv = scalar ? in.lv : Tensor::from_vector(lv_rows, {c.n, c.d});
    Tensor vamp = Tensor::empty({c.n}, Device::cpu(), DType::Float64), gauss = vamp.clone();
    kernels::vamp_log_density_forward(in.u, in.means, in.lv, in.logits, vamp);
    kernels::gaussian_log_density_forward(in.u, mean, lv, gauss);
    EXPECT_LT(max_abs_difference(values(vamp), values(gauss)), 1e-14);

    // One component: π = 1 whatever the logit, so the logit gets no gradient.
    Tensor dout = testing::random_tensor({c.n}, 61, -1, 1, DType::Float64);
    Tensor dlogits = Tensor::zeros({1}, Device::cpu(), DType::Float64), none;
    kernels::vamp_log_density_backward(in.u, in.means, in.lv, in.logits, dout, none, none, none, dlogits);
    EXPECT_NEAR(dlogits.to_double_vector()[0], 0.0, 1e-14);
  }
}

// Components ‖u − mean‖ ≈ 100 away have terms near −5000: exp() of them underflows in any
// precision, so only a max-shifted log-sum-exp gives a finite answer.
TEST(Vamp, FarAwayComponentsStayFinite) {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (bool scalar : {true, false}) {
      const VampCase c{5, 2, 3, scalar};
      VampInputs in = vamp_inputs(c, 70, dtype);
      std::vector<double> u = values(in.u);
      for (std::size_t i = 0; i < u.size(); ++i) u[i] += (i % 2 ? 70.0 : -71.0);
      Tensor far_u = Tensor::from_vector(u, {c.n, c.d}).to(dtype);
      Tensor out = Tensor::empty({c.n}, Device::cpu(), dtype);
      kernels::vamp_log_density_forward(far_u, in.means, in.lv, in.logits, out);
      const auto ref = reference_vamp(far_u, in.means, in.lv, in.logits);
      const auto got = values(out);
      for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_TRUE(std::isfinite(got[i])) << got[i];
        EXPECT_LT(ref[i], -1000.0);
        EXPECT_NEAR(got[i], ref[i], (dtype == DType::Float32 ? 1e-5 : 1e-12) * std::abs(ref[i]));
      }
      Tensor dout = Tensor::full({c.n}, 1.0, Device::cpu(), dtype);
      Tensor du = Tensor::zeros(far_u.shape(), Device::cpu(), dtype);
      Tensor dmeans = Tensor::zeros(in.means.shape(), Device::cpu(), dtype);
      Tensor dlv = Tensor::zeros(in.lv.shape(), Device::cpu(), dtype);
      Tensor dlogits = Tensor::zeros(in.logits.shape(), Device::cpu(), dtype);
      kernels::vamp_log_density_backward(far_u, in.means, in.lv, in.logits, dout, du, dmeans, dlv, dlogits);
      for (const Tensor* g : {&du, &dmeans, &dlv, &dlogits})
        for (double v : values(*g)) ASSERT_TRUE(std::isfinite(v)) << v;
      // Σ_k dlogits_k = Σ_i dout_i (Σ_k γ_ik − Σ_k π_k) = 0.
      double sum = 0.0;
      for (double v : values(dlogits)) sum += v;
      EXPECT_NEAR(sum, 0.0, dtype == DType::Float32 ? 1e-5 : 1e-12);
    }
  }
}

TEST(Vamp, FarAwayGradientsMatchFiniteDifferences) {
  // Two components nearly equidistant from u ≈ 100 away keep both responsibilities non-trivial.
  Tensor u = Tensor::from_vector(std::vector<double>{100.0, 0.5, 99.0, -0.5, 101.0, 0.2}, {3, 2});
  Tensor means = Tensor::from_vector(std::vector<double>{0.0, 0.0, 0.1, 0.3, -50.0, 2.0}, {3, 2});
  Tensor logits = Tensor::from_vector(std::vector<double>{0.2, -0.3, 0.4}, {3});
  auto f = [](Tape& tape, const std::vector<Var>& in) {
    return std::vector<Var>{autodiff::vamp_log_density(tape, in[0], in[1], in[2], in[3])};
  };
  for (bool scalar : {true, false}) {
    Tensor lv = scalar ? Tensor::full({1}, 0.1, Device::cpu(), DType::Float64)
                       : testing::random_tensor({3, 2}, 80, -0.1, 0.1, DType::Float64);
    const auto result = autodiff::check_gradients(f, {u, means, lv, logits});
    EXPECT_TRUE(result.passed) << result.report;
  }
}

TEST(Vamp, BackwardAccumulatesAndSkipsUndefinedGradients) {
  for (bool scalar : {true, false}) {
    const VampCase c{8, 3, 4, scalar};
    const VampInputs in = vamp_inputs(c, 90, DType::Float64);
    Tensor dout = testing::random_tensor({c.n}, 94, -1, 1, DType::Float64);
    auto zeros_like = [](const Tensor& t) { return Tensor::zeros(t.shape(), Device::cpu(), DType::Float64); };
    std::vector<Tensor> once = {zeros_like(in.u), zeros_like(in.means), zeros_like(in.lv), zeros_like(in.logits)};
    kernels::vamp_log_density_backward(in.u, in.means, in.lv, in.logits, dout, once[0], once[1], once[2], once[3]);
    std::vector<Tensor> twice = {once[0].clone(), once[1].clone(), once[2].clone(), once[3].clone()};
    kernels::vamp_log_density_backward(in.u, in.means, in.lv, in.logits, dout, twice[0], twice[1], twice[2],
                                       twice[3]);
    for (int t = 0; t < 4; ++t) {
      const auto a = values(once[t]), b = values(twice[t]);
      for (std::size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(b[i], 2 * a[i]);
      // Only gradient t requested.
      std::vector<Tensor> single(4);
      single[t] = zeros_like(once[t]);
      kernels::vamp_log_density_backward(in.u, in.means, in.lv, in.logits, dout, single[0], single[1], single[2],
                                         single[3]);
      const auto s = values(single[t]);
      for (std::size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(s[i], a[i]);
    }
  }
}

TEST(Vamp, RejectsBadShapesWithNames) {
  Tensor u = Tensor::zeros({4, 3}), means = Tensor::zeros({5, 3}), lv = Tensor::zeros({1}),
         logits = Tensor::zeros({5}), out = Tensor::zeros({4});
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(u, Tensor::zeros({5, 2}), lv, logits, out); },
                 "vamp_log_density means: expected width d = 3");
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(u, Tensor::zeros({0, 3}), lv, Tensor::zeros({0}), out); },
                 "vamp_log_density means: expected at least one component");
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(u, means, Tensor::zeros({4, 3}), logits, out); },
                 "vamp_log_density log_variance: expected shape [1] or [5, 3], got [4, 3]");
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(u, means, lv, Tensor::zeros({4}), out); },
                 "vamp_log_density mixture_logits");
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(Tensor::zeros({4}), means, lv, logits, out); },
                 "vamp_log_density u: expected rank 2");
  Tensor matrix_out = Tensor::zeros({4, 1});
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(u, means, lv, logits, matrix_out); },
                 "vamp_log_density output");
  Tensor none, bad = Tensor::zeros({4});
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_backward(u, means, lv, logits, out, none, none, none, bad); },
                 "vamp_log_density mixture_logits gradient");
  testing::expect_invalid_argument(
      [&] { kernels::vamp_log_density_backward(u, means, lv, logits, Tensor::zeros({3}), none, none, none, none); },
      "vamp_log_density output gradient");
  Tensor logits64 = Tensor::zeros({5}, Device::cpu(), DType::Float64);
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(u, means, lv, logits64, out); },
                 "vamp_log_density mixture_logits");
}

TEST(Vamp, NoGradModeRecordsNothing) {
  Tape tape;
  Var u = tape.variable(Tensor::zeros({2, 3}));
  Var means = tape.variable(Tensor::zeros({4, 3}));
  Var lv = tape.variable(Tensor::zeros({1}));
  Var logits = tape.variable(Tensor::zeros({4}));
  {
    autodiff::NoGradGuard guard(tape);
    autodiff::vamp_log_density(tape, u, means, lv, logits);
    autodiff::gaussian_log_density(tape, u, u, lv);
    autodiff::reparameterize(tape, u, lv, u);
  }
  EXPECT_EQ(tape.node_count(), 0u);
  Var out = autodiff::vamp_log_density(tape, u, means, lv, logits);
  EXPECT_EQ(tape.node_count(), 1u);
  // Equal logits, equal components: log r(u) = log N(u; 0, 1) without 2π = −½ Σ u² = 0 at u = 0.
  for (double v : values(tape.value(out))) EXPECT_NEAR(v, 0.0, 1e-6);
}

}  // namespace
}  // namespace latf
