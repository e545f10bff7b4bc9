// The model-stacked form of the Gaussian family (reparameterize, gaussian_log_density,
// vamp_log_density): M models in one call must equal M single-form calls on the slices bit for
// bit, its gradients must match finite differences, and bad stacked operands are named.
#include <cmath>
#include <string>
#include <vector>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/gaussian.hpp"
#include "tests/stacked_cases.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::Tape;
using testing::expect_same_bits;
using autodiff::Var;

Tensor slice(const Tensor& t, std::int64_t m) { return testing::model_slice(t, m); }


// Per-model scalar log-variances that differ between models, or one per element.
Tensor stacked_log_variance(bool scalar, std::int64_t models, std::int64_t rows, std::int64_t d, std::uint64_t seed,
                            DType dtype = DType::Float32) {
  if (scalar) return testing::random_tensor({models, 1}, seed, -0.8, 0.8, dtype);
  return testing::random_tensor({models, rows, d}, seed, -0.7, 0.7, dtype);
}

// A gradient buffer pre-filled with a pattern, so that a kernel that overwrites fails.
Tensor start(const Shape& shape, std::uint64_t seed, DType dtype = DType::Float32) {
  return testing::random_tensor(shape, seed, -0.5, 0.5, dtype);
}

using Case = testing::StackedGaussianCase;
const auto case_name = testing::stacked_gaussian_case_name;

class StackedGaussian : public ::testing::TestWithParam<Case> {};

// ---------------------------------------------------------------- (a) stacked = M single calls, bit for bit

TEST_P(StackedGaussian, ReparameterizeEqualsSingleCallsPerModel) {
  const Case c = GetParam();
  const Tensor mean = testing::random_tensor({c.models, c.n, c.d}, 1, -1.5, 1.5);
  const Tensor lv = stacked_log_variance(c.scalar_lv, c.models, c.n, c.d, 2);
  const Tensor noise = testing::random_tensor({c.models, c.n, c.d}, 3, -2, 2);
  const Tensor du = testing::random_tensor({c.models, c.n, c.d}, 4);
  Tensor u = Tensor::empty(mean.shape());
  kernels::reparameterize_forward(mean, lv, noise, u);
  Tensor dmean = start(mean.shape(), 5), dlv = start(lv.shape(), 6);
  const Tensor dmean0 = dmean.clone(), dlv0 = dlv.clone();
  kernels::reparameterize_backward(lv, noise, du, dmean, dlv);
  for (std::int64_t m = 0; m < c.models; ++m) {
    Tensor um = Tensor::empty({c.n, c.d});
    kernels::reparameterize_forward(slice(mean, m), slice(lv, m), slice(noise, m), um);
    expect_same_bits(slice(u, m), um, "u of model " + std::to_string(m));
    Tensor dmean_m = slice(dmean0, m).clone(), dlv_m = slice(dlv0, m).clone();
    kernels::reparameterize_backward(slice(lv, m), slice(noise, m), slice(du, m), dmean_m, dlv_m);
    expect_same_bits(slice(dmean, m), dmean_m, "dmean of model " + std::to_string(m));
    expect_same_bits(slice(dlv, m), dlv_m, "dlog_variance of model " + std::to_string(m));
  }
}

TEST_P(StackedGaussian, GaussianLogDensityEqualsSingleCallsPerModel) {
  const Case c = GetParam();
  const Tensor u = testing::random_tensor({c.models, c.n, c.d}, 10, -1.5, 1.5);
  const Tensor mean = testing::random_tensor({c.models, c.n, c.d}, 11, -1.5, 1.5);
  const Tensor lv = stacked_log_variance(c.scalar_lv, c.models, c.n, c.d, 12);
  const Tensor dout = testing::random_tensor({c.models, c.n}, 13);
  Tensor out = Tensor::empty({c.models, c.n});
  kernels::gaussian_log_density_forward(u, mean, lv, out);
  Tensor du = start(u.shape(), 14), dmean = start(u.shape(), 15), dlv = start(lv.shape(), 16);
  const Tensor du0 = du.clone(), dmean0 = dmean.clone(), dlv0 = dlv.clone();
  kernels::gaussian_log_density_backward(u, mean, lv, dout, du, dmean, dlv);
  for (std::int64_t m = 0; m < c.models; ++m) {
    const std::string model = " of model " + std::to_string(m);
    Tensor out_m = Tensor::empty({c.n});
    kernels::gaussian_log_density_forward(slice(u, m), slice(mean, m), slice(lv, m), out_m);
    expect_same_bits(slice(out, m), out_m, "density" + model);
    Tensor du_m = slice(du0, m).clone(), dmean_m = slice(dmean0, m).clone(), dlv_m = slice(dlv0, m).clone();
    kernels::gaussian_log_density_backward(slice(u, m), slice(mean, m), slice(lv, m), slice(dout, m), du_m, dmean_m,
                                           dlv_m);
    expect_same_bits(slice(du, m), du_m, "du" + model);
    expect_same_bits(slice(dmean, m), dmean_m, "dmean" + model);
    expect_same_bits(slice(dlv, m), dlv_m, "dlog_variance" + model);
  }
}

TEST_P(StackedGaussian, VampLogDensityEqualsSingleCallsPerModel) {
  const Case c = GetParam();
  const Tensor u = testing::random_tensor({c.models, c.n, c.d}, 20, -1.5, 1.5);
  const Tensor means = testing::random_tensor({c.models, c.k, c.d}, 21, -1.5, 1.5);
  const Tensor lv = stacked_log_variance(c.scalar_lv, c.models, c.k, c.d, 22);
  const Tensor logits = testing::random_tensor({c.models, c.k}, 23, -2, 2);
  const Tensor dout = testing::random_tensor({c.models, c.n}, 24);
  Tensor out = Tensor::empty({c.models, c.n});
  kernels::vamp_log_density_forward(u, means, lv, logits, out);
  Tensor du = start(u.shape(), 25), dmeans = start(means.shape(), 26), dlv = start(lv.shape(), 27),
         dlogits = start(logits.shape(), 28);
  const Tensor du0 = du.clone(), dmeans0 = dmeans.clone(), dlv0 = dlv.clone(), dlogits0 = dlogits.clone();
  kernels::vamp_log_density_backward(u, means, lv, logits, dout, du, dmeans, dlv, dlogits);
  for (std::int64_t m = 0; m < c.models; ++m) {
    const std::string model = " of model " + std::to_string(m);
    Tensor out_m = Tensor::empty({c.n});
    kernels::vamp_log_density_forward(slice(u, m), slice(means, m), slice(lv, m), slice(logits, m), out_m);
    expect_same_bits(slice(out, m), out_m, "density" + model);
    Tensor du_m = slice(du0, m).clone(), dmeans_m = slice(dmeans0, m).clone(), dlv_m = slice(dlv0, m).clone(),
           dlogits_m = slice(dlogits0, m).clone();
    kernels::vamp_log_density_backward(slice(u, m), slice(means, m), slice(lv, m), slice(logits, m), slice(dout, m),
                                       du_m, dmeans_m, dlv_m, dlogits_m);
    expect_same_bits(slice(du, m), du_m, "du" + model);
    expect_same_bits(slice(dmeans, m), dmeans_m, "dmeans" + model);
    expect_same_bits(slice(dlv, m), dlv_m, "dlog_variance" + model);
    expect_same_bits(slice(dlogits, m), dlogits_m, "dmixture_logits" + model);
  }
}

// The tape ops: stacked outputs have the contract's shapes and their gradients are the kernels'.
TEST_P(StackedGaussian, TapeOpsGiveContractShapes) {
  const Case c = GetParam();
  Tape tape;
  Var mean = tape.variable(testing::random_tensor({c.models, c.n, c.d}, 30, -1, 1));
  Var lv = tape.variable(stacked_log_variance(c.scalar_lv, c.models, c.n, c.d, 31));
  Var noise = tape.constant(testing::random_tensor({c.models, c.n, c.d}, 32, -1, 1));
  Var u = autodiff::reparameterize(tape, mean, lv, noise);
  EXPECT_EQ(tape.value(u).shape(), (Shape{c.models, c.n, c.d}));
  Var density = autodiff::gaussian_log_density(tape, u, mean, lv);
  EXPECT_EQ(tape.value(density).shape(), (Shape{c.models, c.n}));
  Var means = tape.variable(testing::random_tensor({c.models, c.k, c.d}, 33, -1, 1));
  Var vlv = tape.variable(stacked_log_variance(c.scalar_lv, c.models, c.k, c.d, 34));
  Var logits = tape.variable(testing::random_tensor({c.models, c.k}, 35, -1, 1));
  Var prior = autodiff::vamp_log_density(tape, u, means, vlv, logits);
  EXPECT_EQ(tape.value(prior).shape(), (Shape{c.models, c.n}));
  tape.backward(prior, Tensor::full({c.models, c.n}, 1.0));
  EXPECT_EQ(tape.grad(mean).shape(), tape.value(mean).shape());
  EXPECT_EQ(tape.grad(lv).shape(), tape.value(lv).shape());
  EXPECT_EQ(tape.grad(logits).shape(), (Shape{c.models, c.k}));
}

// ---------------------------------------------------------------- (b) finite differences (float64)

TEST_P(StackedGaussian, ReparameterizeGradientsMatchFiniteDifferences) {
  const Case c = GetParam();
  auto f = [](Tape& tape, const std::vector<Var>& in) {
    return std::vector<Var>{autodiff::reparameterize(tape, in[0], in[1], in[2])};
  };
  const auto f64 = DType::Float64;
  const std::vector<Tensor> inputs = {testing::random_tensor({c.models, c.n, c.d}, 40, -1.5, 1.5, f64),
                                      stacked_log_variance(c.scalar_lv, c.models, c.n, c.d, 41, f64),
                                      testing::random_tensor({c.models, c.n, c.d}, 42, -2, 2, f64)};
  autodiff::GradientCheckOptions options;
  options.differentiable = {true, true, false};
  const auto result = autodiff::check_gradients(f, inputs, options);
  EXPECT_TRUE(result.passed) << result.report;
}

TEST_P(StackedGaussian, GaussianGradientsMatchFiniteDifferences) {
  const Case c = GetParam();
  auto f = [](Tape& tape, const std::vector<Var>& in) {
    return std::vector<Var>{autodiff::gaussian_log_density(tape, in[0], in[1], in[2])};
  };
  const auto f64 = DType::Float64;
  const std::vector<Tensor> inputs = {testing::random_tensor({c.models, c.n, c.d}, 43, -1.5, 1.5, f64),
                                      testing::random_tensor({c.models, c.n, c.d}, 44, -1.5, 1.5, f64),
                                      stacked_log_variance(c.scalar_lv, c.models, c.n, c.d, 45, f64)};
  const auto result = autodiff::check_gradients(f, inputs);
  EXPECT_TRUE(result.passed) << result.report;
}

TEST_P(StackedGaussian, VampGradientsMatchFiniteDifferences) {
  const Case c = GetParam();
  auto f = [](Tape& tape, const std::vector<Var>& in) {
    return std::vector<Var>{autodiff::vamp_log_density(tape, in[0], in[1], in[2], in[3])};
  };
  const auto f64 = DType::Float64;
  const std::vector<Tensor> inputs = {testing::random_tensor({c.models, c.n, c.d}, 46, -1.5, 1.5, f64),
                                      testing::random_tensor({c.models, c.k, c.d}, 47, -1.5, 1.5, f64),
                                      stacked_log_variance(c.scalar_lv, c.models, c.k, c.d, 48, f64),
                                      testing::random_tensor({c.models, c.k}, 49, -2, 2, f64)};
  const auto result = autodiff::check_gradients(f, inputs);
  EXPECT_TRUE(result.passed) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Shapes, StackedGaussian,
                         ::testing::Values(Case{1, 5, 3, 2, true}, Case{1, 4, 2, 3, false}, Case{3, 1, 1, 1, true},
                                           Case{3, 7, 3, 4, true}, Case{3, 17, 5, 3, false},
                                           Case{2, 19, 2, 5, false}),
                         case_name);

// ---------------------------------------------------------------- dead mixture components

// The lead marks a dead VampPrior component with a finite logit of −1e30: it must carry exactly 0
// weight (output and every other gradient as if it were absent) and receive exactly 0 gradient.
struct VampInputs {
  Tensor u, means, lv, logits, dout;
};

// Drops component `dead` of a single-form VampPrior.
VampInputs without_component(const VampInputs& in, std::int64_t dead) {
  const std::int64_t k = in.means.dim(0), d = in.means.dim(1);
  auto drop_rows = [&](const Tensor& t, std::int64_t width) {
    const std::vector<double> v = t.to_double_vector();
    std::vector<double> kept;
    for (std::int64_t r = 0; r < k; ++r)
      if (r != dead) kept.insert(kept.end(), v.begin() + r * width, v.begin() + (r + 1) * width);
    Tensor out = t.rank() == 1 ? Tensor::empty({k - 1}, Device::cpu(), t.dtype())
                               : Tensor::empty({k - 1, width}, Device::cpu(), t.dtype());
    out.copy_from(Tensor::from_vector(kept, out.shape()).to(t.dtype()));
    return out;
  };
  VampInputs r = in;
  r.means = drop_rows(in.means, d);
  r.logits = drop_rows(in.logits, 1);
  if (in.lv.rank() == 2) r.lv = drop_rows(in.lv, d);
  return r;
}

struct VampResult {
  Tensor out, du, dmeans, dlv, dlogits;
};

VampResult run_vamp(const VampInputs& in) {
  const DType t = in.u.dtype();
  VampResult r;
  r.out = Tensor::empty({in.u.dim(0)}, Device::cpu(), t);
  kernels::vamp_log_density_forward(in.u, in.means, in.lv, in.logits, r.out);
  r.du = Tensor::zeros(in.u.shape(), Device::cpu(), t);
  r.dmeans = Tensor::zeros(in.means.shape(), Device::cpu(), t);
  r.dlv = Tensor::zeros(in.lv.shape(), Device::cpu(), t);
  r.dlogits = Tensor::zeros(in.logits.shape(), Device::cpu(), t);
  kernels::vamp_log_density_backward(in.u, in.means, in.lv, in.logits, in.dout, r.du, r.dmeans, r.dlv, r.dlogits);
  return r;
}

void expect_equal_values(const Tensor& a, const Tensor& b, const std::string& what) {
  EXPECT_EQ(a.to_double_vector(), b.to_double_vector()) << what;
}

TEST(StackedGaussianDeadComponent, MinusHugeLogitComponentIsExactlyAbsent) {
  const std::int64_t n = 37, d = 3, k = 5, dead = 2;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (bool scalar : {true, false}) {
      for (std::int64_t dead_at : {std::int64_t{0}, dead, k - 1}) {
        SCOPED_TRACE(std::string(dtype_name(dtype)) + (scalar ? " scalar lv" : " component lv") + " dead component " +
                     std::to_string(dead_at));
        VampInputs in;
        in.u = testing::random_tensor({n, d}, 50, -2, 2, dtype);
        in.means = testing::random_tensor({k, d}, 51, -2, 2, dtype);
        in.lv = scalar ? Tensor::full({1}, 0.2, Device::cpu(), dtype) : testing::random_tensor({k, d}, 52, -0.5, 0.5, dtype);
        std::vector<double> logits = testing::random_tensor({k}, 53, -1, 1, DType::Float64).to_double_vector();
        logits[dead_at] = -1e30;
        in.logits = Tensor::from_vector(logits, {k}).to(dtype);
        in.dout = testing::random_tensor({n}, 54, -1, 1, dtype);
        const VampResult with = run_vamp(in);
        const VampResult without = run_vamp(without_component(in, dead_at));
        expect_equal_values(with.out, without.out, "density");
        expect_equal_values(with.du, without.du, "du");
        if (scalar) expect_equal_values(with.dlv, without.dlv, "shared dlog_variance");
        const std::vector<double> dm = with.dmeans.to_double_vector(), dl = with.dlogits.to_double_vector(),
                                  dv = with.dlv.to_double_vector();
        const std::vector<double> dm_w = without.dmeans.to_double_vector(),
                                  dl_w = without.dlogits.to_double_vector(), dv_w = without.dlv.to_double_vector();
        for (std::int64_t kk = 0, kept = 0; kk < k; ++kk) {
          const bool is_dead = kk == dead_at;
          EXPECT_EQ(dl[kk], is_dead ? 0.0 : dl_w[kept]) << "logit gradient " << kk;
          for (std::int64_t j = 0; j < d; ++j) {
            EXPECT_EQ(dm[kk * d + j], is_dead ? 0.0 : dm_w[kept * d + j]) << "mean gradient " << kk << "," << j;
            if (!scalar) {
              EXPECT_EQ(dv[kk * d + j], is_dead ? 0.0 : dv_w[kept * d + j]) << "lv gradient " << kk;
            }
          }
          if (!is_dead) ++kept;
        }
      }
    }
  }
}

// Stacked: model 1 of 2 carries a dead component; it equals its own single call without it, and
// model 0 (no dead component) is untouched.
TEST(StackedGaussianDeadComponent, StackedModelWithDeadComponentMatchesItsSingleFormWithoutIt) {
  const std::int64_t models = 2, n = 21, d = 2, k = 4, dead = 1;
  const Tensor u = testing::random_tensor({models, n, d}, 60, -2, 2);
  const Tensor means = testing::random_tensor({models, k, d}, 61, -2, 2);
  const Tensor lv = testing::random_tensor({models, 1}, 62, -0.5, 0.5);
  std::vector<float> logits = testing::random_tensor({models, k}, 63, -1, 1).to_vector();
  logits[k + dead] = -1e30f;
  const Tensor logit_tensor = Tensor::from_vector(logits, {models, k});
  const Tensor dout = testing::random_tensor({models, n}, 64);
  Tensor out = Tensor::empty({models, n});
  kernels::vamp_log_density_forward(u, means, lv, logit_tensor, out);
  Tensor du = Tensor::zeros(u.shape()), dmeans = Tensor::zeros(means.shape()), dlv = Tensor::zeros(lv.shape()),
         dlogits = Tensor::zeros(logit_tensor.shape());
  kernels::vamp_log_density_backward(u, means, lv, logit_tensor, dout, du, dmeans, dlv, dlogits);

  VampInputs single{slice(u, 1).clone(), slice(means, 1).clone(), slice(lv, 1).clone(), slice(logit_tensor, 1).clone(),
                    slice(dout, 1).clone()};
  const VampResult reference = run_vamp(without_component(single, dead));
  expect_same_bits(slice(out, 1), reference.out, "density of model 1");
  expect_same_bits(slice(du, 1), reference.du, "du of model 1");
  expect_same_bits(slice(dlv, 1), reference.dlv, "dlog_variance of model 1");
  const std::vector<float> dl = dlogits.to_vector(), dm = dmeans.to_vector();
  const std::vector<float> dl_ref = reference.dlogits.to_vector(), dm_ref = reference.dmeans.to_vector();
  for (std::int64_t kk = 0, kept = 0; kk < k; ++kk) {
    const bool is_dead = kk == dead;
    EXPECT_EQ(dl[k + kk], is_dead ? 0.f : dl_ref[kept]) << "logit gradient " << kk;
    for (std::int64_t j = 0; j < d; ++j)
      EXPECT_EQ(dm[(k + kk) * d + j], is_dead ? 0.f : dm_ref[kept * d + j]) << "mean gradient " << kk;
    if (!is_dead) ++kept;
  }
  VampInputs model0{slice(u, 0).clone(), slice(means, 0).clone(), slice(lv, 0).clone(), slice(logit_tensor, 0).clone(),
                    slice(dout, 0).clone()};
  const VampResult reference0 = run_vamp(model0);
  expect_same_bits(slice(out, 0), reference0.out, "density of model 0");
  expect_same_bits(slice(dlogits, 0), reference0.dlogits, "dlogits of model 0");
}

// ---------------------------------------------------------------- (c) bad input

TEST(StackedGaussianBadInput, RejectsWrongModelCountsMixedFormsAndShapesWithNames) {
  const Tensor mean = Tensor::zeros({3, 4, 2}), noise = Tensor::zeros({3, 4, 2});
  Tensor u = Tensor::zeros({3, 4, 2}), out = Tensor::zeros({3, 4});
  // reparameterize
  testing::expect_invalid_argument_all([&] { kernels::reparameterize_forward(mean, Tensor::zeros({2, 1}), noise, u); },
                                       {"reparameterize log_variance", "stacked", "[3, 1]", "[2, 1]"});
  testing::expect_invalid_argument([&] { kernels::reparameterize_forward(mean, Tensor::zeros({1}), noise, u); },
                                   "reparameterize log_variance");  // mixed: single scalar with stacked mean
  testing::expect_invalid_argument([&] { kernels::reparameterize_forward(mean, Tensor::zeros({4, 2}), noise, u); },
                                   "reparameterize log_variance");
  testing::expect_invalid_argument([&] { kernels::reparameterize_forward(mean, Tensor::zeros({3, 1}), Tensor::zeros({4, 2}), u); },
                                   "reparameterize noise");
  testing::expect_invalid_argument([&] { kernels::reparameterize_forward(mean, Tensor::zeros({3, 1}), Tensor::zeros({2, 4, 2}), u); },
                                   "reparameterize noise");
  Tensor none, bad_dlv = Tensor::zeros({1});
  testing::expect_invalid_argument(
      [&] { kernels::reparameterize_backward(Tensor::zeros({3, 1}), noise, Tensor::zeros({3, 4, 2}), none, bad_dlv); },
      "reparameterize log_variance gradient");
  // gaussian_log_density
  testing::expect_invalid_argument([&] { kernels::gaussian_log_density_forward(u, Tensor::zeros({4, 2}), Tensor::zeros({3, 1}), out); },
                                   "gaussian_log_density mean");
  testing::expect_invalid_argument([&] { kernels::gaussian_log_density_forward(u, mean, Tensor::zeros({3, 4, 3}), out); },
                                   "gaussian_log_density log_variance");
  Tensor flat_out = Tensor::zeros({12});
  testing::expect_invalid_argument_all(
      [&] { kernels::gaussian_log_density_forward(u, mean, Tensor::zeros({3, 1}), flat_out); },
      {"gaussian_log_density output", "[3, 4]"});
  testing::expect_invalid_argument(
      [&] {
        Tensor du = Tensor::zeros({3, 4, 2});
        kernels::gaussian_log_density_backward(u, mean, Tensor::zeros({3, 1}), Tensor::zeros({2, 4}), du, none, none);
      },
      "gaussian_log_density output gradient");
  // vamp_log_density
  const Tensor means = Tensor::zeros({3, 5, 2}), vlv = Tensor::zeros({3, 1}), logits = Tensor::zeros({3, 5});
  testing::expect_invalid_argument_all([&] { kernels::vamp_log_density_forward(u, Tensor::zeros({2, 5, 2}), vlv, logits, out); },
                                       {"vamp_log_density means", "M = 3"});
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(u, Tensor::zeros({5, 2}), vlv, logits, out); },
                                   "vamp_log_density means");  // mixed: shared means are not part of the contract
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(u, Tensor::zeros({3, 5, 3}), vlv, logits, out); },
                                   "vamp_log_density means");
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(u, Tensor::zeros({3, 0, 2}), vlv, logits, out); },
                                   "at least one component");
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(u, means, Tensor::zeros({3, 4, 2}), logits, out); },
                                   "vamp_log_density log_variance");
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(u, means, vlv, Tensor::zeros({5}), out); },
                                   "vamp_log_density mixture_logits");
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(u, means, vlv, Tensor::zeros({3, 4}), out); },
                                   "vamp_log_density mixture_logits");
  Tensor bad_dlogits = Tensor::zeros({5});
  testing::expect_invalid_argument(
      [&] { kernels::vamp_log_density_backward(u, means, vlv, logits, out, none, none, none, bad_dlogits); },
      "vamp_log_density mixture_logits gradient");
  testing::expect_invalid_argument([&] { kernels::vamp_log_density_forward(Tensor::zeros({3, 4, 2, 1}), means, vlv, logits, out); },
                                   "vamp_log_density u");
}

}  // namespace
}  // namespace latf
