// The loss's prior terms as fused ops (kernels/prior_terms.hpp; autodiff vamp_kl_term and
// tilted_nll_term) against their chains of density op → axpby → weighted mean: value and every
// gradient, single and stacked, in float32 (to rounding) and float64 (to 1e-12); finite
// differences in float64; stacked = per-slice single calls bit for bit; bad input named; and the
// whole LaTF loss with the fused terms forced on against the chain-built loss.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/prior_terms.hpp"
#include "models/latf_model.hpp"
#include "models/loss.hpp"
#include "tests/prior_terms_cases.hpp"
#include "tests/stacked_support.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::Tape;
using testing::expect_same_bits;
using autodiff::Var;
using namespace testing::prior_terms;

// One tilt per model for the stacked form, differing between models; one for the single form.
constexpr float kTau = 1.3f;
Tensor taus_of(const Case& c) { return testing::random_tensor({std::max(c.models, 1)}, 30, 0.0, 2.5); }

Var batch_mean(Tape& tape, const Case& c, Var x, Var weights) {
  return c.models ? autodiff::model_weighted_mean(tape, x, weights) : autodiff::weighted_mean(tape, x, weights);
}

Var vamp_term(Tape& tape, const Case& c, const std::vector<Var>& in, bool fused) {
  const Var w = c.weighted ? in[6] : Var{};
  if (fused) return autodiff::vamp_kl_term(tape, in[0], in[1], in[2], in[3], in[4], in[5], w);
  Var log_q = autodiff::gaussian_log_density(tape, in[0], in[1], in[2]);
  Var log_r = autodiff::vamp_log_density(tape, in[0], in[3], in[4], in[5]);
  return batch_mean(tape, c, autodiff::axpby(tape, 1.0, log_q, -1.0, log_r), w);
}

Var tilted_term(Tape& tape, const Case& c, const std::vector<Var>& in, const Tensor& taus, bool fused) {
  const Var log_det = c.log_det ? in[2] : Var{};
  const Var w = c.weighted ? in[c.log_det ? 3 : 2] : Var{};
  if (fused)
    return c.models ? autodiff::tilted_nll_term(tape, in[0], log_det, in[1], taus, w)
                    : autodiff::tilted_nll_term(tape, in[0], log_det, in[1], kTau, w);
  Var log_r = c.models ? autodiff::tilted_log_density(tape, in[0], in[1], Var{}, taus)
                       : autodiff::tilted_log_density(tape, in[0], in[1], Var{}, kTau);
  Var nll = c.log_det ? autodiff::axpby(tape, -1.0, log_r, -1.0, log_det) : autodiff::axpby(tape, -1.0, log_r, 0.0, log_r);
  return batch_mean(tape, c, nll, w);
}

struct Evaluation {
  Tensor value;
  std::vector<Tensor> grads;  // of the differentiable inputs (undefined where none flowed)
};

// Records `term` with the first `differentiable` inputs as variables (the rest constants), seeds
// the backward with `seed`.
template <class Term>
Evaluation evaluate(const std::vector<Tensor>& inputs, std::size_t differentiable, const Tensor& seed, Term&& term) {
  Tape tape;
  std::vector<Var> vars;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    vars.push_back(i < differentiable ? tape.variable(inputs[i]) : tape.constant(inputs[i]));
  const Var out = term(tape, vars);
  tape.backward(out, seed);
  Evaluation e{tape.value(out).clone(), {}};
  for (std::size_t i = 0; i < differentiable; ++i) e.grads.push_back(tape.grad(vars[i]).clone());
  return e;
}

void expect_close(const Evaluation& fused, const Evaluation& chain, double tolerance, const std::vector<std::string>& names) {
  ASSERT_EQ(fused.value.shape(), chain.value.shape());
  EXPECT_LE(testing::max_relative_error(fused.value, chain.value), tolerance) << "value";
  for (std::size_t i = 0; i < chain.grads.size(); ++i) {
    ASSERT_TRUE(fused.grads[i].defined()) << "d" << names[i];
    ASSERT_TRUE(chain.grads[i].defined()) << "d" << names[i];
    EXPECT_LE(testing::max_relative_error(fused.grads[i], chain.grads[i]), tolerance) << "d" << names[i];
  }
}

const std::vector<std::string> kVampNames = {"u", "mean", "log_variance", "means", "component_log_variance",
                                             "mixture_logits"};
const std::vector<std::string> kTiltedNames = {"z", "inverse_temperature(data)", "log_det"};

class PriorTerms : public ::testing::TestWithParam<Case> {};

Tensor seed_of(const Case& c, DType dtype) { return rand({std::max(c.models, 1)}, 40, 0.5, 2.0, dtype); }

// ---------------------------------------------------------------- fused = chain

TEST_P(PriorTerms, VampKlTermEqualsChain) {
  const Case c = GetParam();
  // float32: the row terms differ by rounding (the chain's vectorised exp, the fused per-element
  // exp); float64: both are libm, so they agree to the last few ulps.
  for (const auto& [dtype, tolerance] : {std::pair{DType::Float32, 2e-5}, std::pair{DType::Float64, 1e-12}}) {
    SCOPED_TRACE(dtype_name(dtype));
    const std::vector<Tensor> in = vamp_inputs(c, dtype);
    const Tensor seed = seed_of(c, dtype);
    const auto run = [&](bool fused) {
      return evaluate(in, 6, seed, [&](Tape& t, const std::vector<Var>& v) { return vamp_term(t, c, v, fused); });
    };
    expect_close(run(true), run(false), tolerance, kVampNames);
  }
}

TEST_P(PriorTerms, TiltedNllTermEqualsChain) {
  const Case c = GetParam();
  const Tensor taus = taus_of(c);
  for (const auto& [dtype, tolerance] : {std::pair{DType::Float32, 2e-5}, std::pair{DType::Float64, 1e-12}}) {
    SCOPED_TRACE(dtype_name(dtype));
    const std::vector<Tensor> in = tilted_inputs(c, dtype);
    const Tensor seed = seed_of(c, dtype);
    // Differentiable: z (and log_det, input 2, when given); b and weights are data.
    const auto run = [&](bool fused) {
      Tape tape;
      std::vector<Var> v;
      for (std::size_t i = 0; i < in.size(); ++i)
        v.push_back(i == 0 || (i == 2 && c.log_det) ? tape.variable(in[i]) : tape.constant(in[i]));
      const Var out = tilted_term(tape, c, v, taus, fused);
      tape.backward(out, seed);
      Evaluation e{tape.value(out).clone(), {tape.grad(v[0]).clone()}};
      if (c.log_det) e.grads.push_back(tape.grad(v[2]).clone());
      return e;
    };
    expect_close(run(true), run(false), tolerance, {"z", "log_det"});
  }
}

// ---------------------------------------------------------------- finite differences (float64)

TEST_P(PriorTerms, VampKlTermGradientsMatchFiniteDifferences) {
  const Case c = GetParam();
  auto f = [c](Tape& tape, const std::vector<Var>& in) { return std::vector<Var>{vamp_term(tape, c, in, true)}; };
  const std::vector<Tensor> in = vamp_inputs(c, DType::Float64, 50);
  autodiff::GradientCheckOptions options;
  options.differentiable = std::vector<bool>(in.size(), true);
  if (c.weighted) options.differentiable[6] = false;  // weights are data for the fused op
  const auto result = autodiff::check_gradients(f, in, options);
  EXPECT_TRUE(result.passed) << result.report;
}

TEST_P(PriorTerms, TiltedNllTermGradientsMatchFiniteDifferences) {
  const Case c = GetParam();
  const Tensor taus = taus_of(c);
  auto f = [c, taus](Tape& tape, const std::vector<Var>& in) {
    return std::vector<Var>{tilted_term(tape, c, in, taus, true)};
  };
  const std::vector<Tensor> in = tilted_inputs(c, DType::Float64, 60);
  autodiff::GradientCheckOptions options;
  options.differentiable = std::vector<bool>(in.size(), false);
  options.differentiable[0] = true;
  if (c.log_det) options.differentiable[2] = true;
  const auto result = autodiff::check_gradients(f, in, options);
  EXPECT_TRUE(result.passed) << result.report;
}

// ---------------------------------------------------------------- stacked = per-slice single calls

Tensor slice(const Tensor& t, std::int64_t m) { return t.defined() ? testing::model_slice(t, m).clone() : t; }


// The stacked cases only.
class StackedPriorTerms : public ::testing::TestWithParam<Case> {};

TEST_P(StackedPriorTerms, VampKlTermEqualsSingleCallsPerModel) {
  const Case c = GetParam();
  const std::vector<Tensor> in = vamp_inputs(c, DType::Float32);
  const Tensor w = c.weighted ? in[6] : Tensor();
  const Tensor dloss = seed_of(c, DType::Float32);
  Tensor loss = Tensor::empty({c.models});
  kernels::vamp_kl_term_forward(in[0], in[1], in[2], in[3], in[4], in[5], w, loss);
  // Gradients accumulate into non-zero buffers.
  std::vector<Tensor> grads, start;
  for (int i = 0; i < 6; ++i) {
    start.push_back(rand(in[i].shape(), 70 + i, -0.5, 0.5, DType::Float32));
    grads.push_back(start.back().clone());
  }
  kernels::vamp_kl_term_backward(in[0], in[1], in[2], in[3], in[4], in[5], w, dloss, grads[0], grads[1], grads[2],
                                 grads[3], grads[4], grads[5]);
  for (std::int64_t m = 0; m < c.models; ++m) {
    const std::string model = concat(" of model ", m);
    Tensor loss_m = Tensor::empty({1});
    kernels::vamp_kl_term_forward(slice(in[0], m), slice(in[1], m), slice(in[2], m), slice(in[3], m), slice(in[4], m),
                                  slice(in[5], m), slice(w, m), loss_m);
    expect_same_bits(slice(loss, m), loss_m, "loss" + model);
    std::vector<Tensor> g;
    for (int i = 0; i < 6; ++i) g.push_back(slice(start[i], m));
    kernels::vamp_kl_term_backward(slice(in[0], m), slice(in[1], m), slice(in[2], m), slice(in[3], m),
                                   slice(in[4], m), slice(in[5], m), slice(w, m), slice(dloss, m), g[0], g[1], g[2],
                                   g[3], g[4], g[5]);
    for (int i = 0; i < 6; ++i) expect_same_bits(slice(grads[i], m), g[i], "d" + kVampNames[i] + model);
  }
}

TEST_P(StackedPriorTerms, TiltedNllTermEqualsSingleCallsPerModel) {
  const Case c = GetParam();
  const std::vector<Tensor> in = tilted_inputs(c, DType::Float32);
  const Tensor log_det = c.log_det ? in[2] : Tensor();
  const Tensor w = c.weighted ? in[c.log_det ? 3 : 2] : Tensor();
  const Tensor taus = taus_of(c), dloss = seed_of(c, DType::Float32);
  Tensor loss = Tensor::empty({c.models});
  kernels::tilted_nll_term_forward(in[0], log_det, in[1], taus, w, loss);
  const Tensor dz0 = rand(in[0].shape(), 80, -0.5, 0.5, DType::Float32);
  const Tensor dl0 = c.log_det ? rand(log_det.shape(), 81, -0.5, 0.5, DType::Float32) : Tensor();
  Tensor dz = dz0.clone(), dl = c.log_det ? dl0.clone() : Tensor();
  kernels::tilted_nll_term_backward(in[0], log_det, in[1], taus, w, dloss, dz, dl);
  const std::vector<float> tau = taus.to_vector();
  for (std::int64_t m = 0; m < c.models; ++m) {
    const std::string model = concat(" of model ", m);
    Tensor loss_m = Tensor::empty({1});
    kernels::tilted_nll_term_forward(slice(in[0], m), slice(log_det, m), slice(in[1], m), tau[m], slice(w, m), loss_m);
    expect_same_bits(slice(loss, m), loss_m, "loss" + model);
    Tensor dz_m = slice(dz0, m), dl_m = slice(dl0, m);
    kernels::tilted_nll_term_backward(slice(in[0], m), slice(log_det, m), slice(in[1], m), tau[m], slice(w, m),
                                      slice(dloss, m), dz_m, dl_m);
    expect_same_bits(slice(dz, m), dz_m, "dz" + model);
    if (c.log_det) expect_same_bits(slice(dl, m), dl_m, "dlog_det" + model);
  }
}

// Against an independent double-precision reference of the forward (plain loops).
TEST_P(PriorTerms, ForwardMatchesDoubleReference) {
  const Case c = GetParam();
  const std::int64_t models = std::max(c.models, 1), n = c.n;
  const int d = c.d, k = c.k;
  const std::vector<Tensor> in = vamp_inputs(c, DType::Float32);
  Tensor loss = Tensor::empty({models});
  kernels::vamp_kl_term_forward(in[0], in[1], in[2], in[3], in[4], in[5], c.weighted ? in[6] : Tensor(), loss);
  std::vector<std::vector<double>> v;
  for (const Tensor& t : in) v.push_back(t.to_double_vector());
  const std::vector<double> got = loss.to_double_vector();
  for (std::int64_t m = 0; m < models; ++m) {
    const auto lv = [&](const std::vector<double>& x, std::int64_t rows, std::int64_t r, int j) {
      return c.scalar_lv ? x[m] : x[(m * rows + r) * d + j];
    };
    double total = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double* u = v[0].data() + (m * n + i) * d;
      double log_q = 0;
      for (int j = 0; j < d; ++j) {
        const double l = lv(v[2], n, i, j), diff = u[j] - v[1][(m * n + i) * d + j];
        log_q += -0.5 * (l + diff * diff * std::exp(-l));
      }
      double normalizer = 0, mixture = 0;
      for (int q = 0; q < k; ++q) normalizer += std::exp(v[5][m * k + q]);
      for (int q = 0; q < k; ++q) {
        double log_n = 0;
        for (int j = 0; j < d; ++j) {
          const double l = lv(v[4], k, q, j), diff = u[j] - v[3][(m * k + q) * d + j];
          log_n += -0.5 * (l + diff * diff * std::exp(-l));
        }
        mixture += std::exp(v[5][m * k + q]) / normalizer * std::exp(log_n);
      }
      total += (c.weighted ? v[6][m * n + i] : 1.0) * (log_q - std::log(mixture));
    }
    EXPECT_NEAR(got[m], total / double(n), 2e-5 * std::max(1.0, std::abs(total / double(n)))) << "model " << m;
  }
}

const auto kStackedCases =
    ::testing::Values(Case{1, true, true, true, 23, 2, 3}, Case{1, false, false, false, 9, 3, 2},
                      Case{3, true, true, false, 21, 2, 6}, Case{3, false, true, true, 17, 3, 4},
                      Case{3, true, false, true, 5, 5, 7});

INSTANTIATE_TEST_SUITE_P(Single, PriorTerms,
                         ::testing::Values(Case{0, true, true, true, 37, 2, 5}, Case{0, false, false, false, 19, 3, 4},
                                           Case{0, false, true, true, 1, 1, 1}),  // one row, dimension, component
                         case_name);
INSTANTIATE_TEST_SUITE_P(Stacked, PriorTerms, kStackedCases, case_name);
INSTANTIATE_TEST_SUITE_P(Stacked, StackedPriorTerms, kStackedCases, case_name);

// ---------------------------------------------------------------- extreme values

// Components hundreds of σ away from every row: the mixture's log-sum-exp stays finite in both.
TEST(PriorTermsExtreme, FarComponentsStayFiniteAndEqualChain) {
  const Case c{0, false, true, true, 8, 2, 3};
  std::vector<Tensor> in = vamp_inputs(c, DType::Float32);
  in[3] = rand(in[3].shape(), 90, 200, 300, DType::Float32);
  const Tensor seed = seed_of(c, DType::Float32);
  const auto run = [&](bool fused) {
    return evaluate(in, 6, seed, [&](Tape& t, const std::vector<Var>& v) { return vamp_term(t, c, v, fused); });
  };
  const Evaluation fused = run(true), chain = run(false);
  EXPECT_TRUE(std::isfinite(fused.value.item()));
  expect_close(fused, chain, 2e-5, kVampNames);
}

// ---------------------------------------------------------------- bad input

TEST(PriorTermsBadInput, VampKlTermNamesTheOperand) {
  const Case single{0, true, true, true, 6, 2, 3}, stacked{3, true, true, true, 6, 2, 3};
  const std::vector<Tensor> s = vamp_inputs(single, DType::Float32), t = vamp_inputs(stacked, DType::Float32);
  Tensor loss1 = Tensor::empty({1}), loss3 = Tensor::empty({3});
  const auto fwd = [](const std::vector<Tensor>& in, Tensor& loss) {
    kernels::vamp_kl_term_forward(in[0], in[1], in[2], in[3], in[4], in[5], in[6], loss);
  };
  const auto with = [](std::vector<Tensor> in, int i, const Tensor& x) {
    in[i] = x;
    return in;
  };
  testing::expect_invalid_argument([&] { fwd(with(s, 1, Tensor::zeros({6, 3})), loss1); }, "vamp_kl_term mean");
  testing::expect_invalid_argument([&] { fwd(with(s, 2, Tensor::zeros({2})), loss1); }, "vamp_kl_term log_variance");
  testing::expect_invalid_argument([&] { fwd(with(s, 3, Tensor::zeros({3, 4})), loss1); }, "vamp_kl_term means");
  testing::expect_invalid_argument([&] { fwd(with(s, 4, Tensor::zeros({2, 2})), loss1); },
                                   "vamp_kl_term component_log_variance");
  testing::expect_invalid_argument([&] { fwd(with(s, 5, Tensor::zeros({4})), loss1); }, "vamp_kl_term mixture_logits");
  testing::expect_invalid_argument([&] { fwd(with(s, 6, Tensor::zeros({5})), loss1); }, "vamp_kl_term weights");
  testing::expect_invalid_argument([&] { fwd(with(s, 0, Tensor::zeros({0, 2})), loss1); }, "vamp_kl_term u");
  testing::expect_invalid_argument([&] { fwd(with(s, 6, Tensor::zeros({6}, Device::cpu(), DType::Float64)), loss1); },
                                   "vamp_kl_term weights");
  testing::expect_invalid_argument([&] { fwd(s, loss3); }, "vamp_kl_term output loss");
  // Stacked: wrong model count, mixed forms.
  testing::expect_invalid_argument([&] { fwd(with(t, 3, Tensor::zeros({2, 3, 2})), loss3); }, "vamp_kl_term means");
  testing::expect_invalid_argument([&] { fwd(with(t, 3, s[3]), loss3); }, "vamp_kl_term means");
  testing::expect_invalid_argument([&] { fwd(with(t, 2, s[2]), loss3); }, "vamp_kl_term log_variance");
  testing::expect_invalid_argument([&] { fwd(with(t, 5, s[5]), loss3); }, "vamp_kl_term mixture_logits");
  testing::expect_invalid_argument([&] { fwd(with(t, 6, s[6]), loss3); }, "vamp_kl_term weights");
  testing::expect_invalid_argument([&] { fwd(t, loss1); }, "vamp_kl_term output loss");
  // Backward: a gradient of the wrong shape.
  Tensor bad = Tensor::zeros({6, 3}), none;
  testing::expect_invalid_argument(
      [&] {
        kernels::vamp_kl_term_backward(s[0], s[1], s[2], s[3], s[4], s[5], s[6], loss1, bad, none, none, none, none,
                                       none);
      },
      "vamp_kl_term u gradient");
  // The op: weights that want a gradient would get none.
  Tape tape;
  std::vector<Var> v;
  for (const Tensor& x : s) v.push_back(tape.variable(x));
  testing::expect_invalid_argument(
      [&] { (void)autodiff::vamp_kl_term(tape, v[0], v[1], v[2], v[3], v[4], v[5], v[6]); }, "vamp_kl_term weights");
}

TEST(PriorTermsBadInput, TiltedNllTermNamesTheOperand) {
  const Tensor z = testing::random_tensor({6, 2}, 1), b = testing::random_tensor({6}, 2, 0.5, 1.5);
  const Tensor zs = testing::random_tensor({3, 6, 2}, 3), bs = testing::random_tensor({3, 6}, 4, 0.5, 1.5);
  const Tensor taus = testing::random_tensor({3}, 5, 0, 2), none;
  Tensor loss1 = Tensor::empty({1}), loss3 = Tensor::empty({3});
  testing::expect_invalid_argument([&] { kernels::tilted_nll_term_forward(z, none, Tensor::zeros({5}), kTau, none, loss1); },
                                   "tilted_nll_term inverse_temperature");
  testing::expect_invalid_argument([&] { kernels::tilted_nll_term_forward(z, Tensor::zeros({7}), b, kTau, none, loss1); },
                                   "tilted_nll_term log_det");
  testing::expect_invalid_argument([&] { kernels::tilted_nll_term_forward(z, none, b, kTau, Tensor::zeros({6, 1}), loss1); },
                                   "tilted_nll_term weights");
  testing::expect_invalid_argument([&] { kernels::tilted_nll_term_forward(z, none, b, NAN, none, loss1); },
                                   "tilted_nll_term tau");
  testing::expect_invalid_argument([&] { kernels::tilted_nll_term_forward(Tensor::zeros({6}), none, b, kTau, none, loss1); },
                                   "tilted_nll_term z");
  // Stacked: taus of the wrong model count, a single-form tau, mixed forms.
  testing::expect_invalid_argument(
      [&] { kernels::tilted_nll_term_forward(zs, none, bs, Tensor::zeros({2}), none, loss3); }, "tilted_nll_term taus");
  testing::expect_invalid_argument([&] { kernels::tilted_nll_term_forward(zs, none, bs, kTau, none, loss3); },
                                   "tilted_nll_term z");
  testing::expect_invalid_argument([&] { kernels::tilted_nll_term_forward(z, none, b, taus, none, loss1); },
                                   "tilted_nll_term z");
  testing::expect_invalid_argument([&] { kernels::tilted_nll_term_forward(zs, none, b, taus, none, loss3); },
                                   "tilted_nll_term inverse_temperature");
  testing::expect_invalid_argument(
      [&] { kernels::tilted_nll_term_forward(zs, none, bs, taus, Tensor::zeros({2, 6}), loss3); },
      "tilted_nll_term weights");
  const std::vector<float> bad_tau = {0.5f, NAN, 1.f};
  testing::expect_invalid_argument(
      [&] { kernels::tilted_nll_term_forward(zs, none, bs, Tensor::from_vector(bad_tau, {3}), none, loss3); },
      "tilted_nll_term taus");
  // A log_det gradient without a log_det.
  Tensor dz = Tensor::zeros({6, 2}), dl = Tensor::zeros({6});
  testing::expect_invalid_argument(
      [&] { kernels::tilted_nll_term_backward(z, none, b, kTau, none, Tensor::full({1}, 1.0), dz, dl); },
      "tilted_nll_term log_det gradient");
}

// ---------------------------------------------------------------- the whole loss, fused terms forced on

using models::LatfConfig;
using models::LatfModel;
using models::Phase;

LatfModel make_model(const LatfConfig& config, const models::Dataset& data) {
  return LatfModel::create(config, data.descriptors(), data.states(), data.normalization(),
                           data.reference_temperature(), Device::cpu());
}

struct LossRun {
  Tensor total, prior;
  std::vector<Tensor> grads;
  std::size_t nodes;  // recorded on the tape: fewer when the prior term is one fused op
};

// One loss (single when models == 0, else stacked over `spib`/`flow`) in the given form; the
// parameter gradients are read and zeroed afterwards.
LossRun run_loss(models::SpibModel& spib, models::RealNvp& flow, Phase phase, int model_count, std::int64_t rows,
                 int states, const LatfConfig& config, models::PriorTermForm form) {
  const int d = config.spib.latent_dim;
  const auto shape = [&](std::initializer_list<std::int64_t> inner) {
    std::vector<std::int64_t> dims(inner);
    if (model_count) dims.insert(dims.begin(), model_count);
    return dims.size() == 1 ? Shape{dims[0]} : dims.size() == 2 ? Shape{dims[0], dims[1]} : Shape{dims[0], dims[1], dims[2]};
  };
  const std::int64_t m_count = std::max(model_count, 1);
  const Tensor inputs = testing::random_tensor(shape({rows, 2}), 1, -2, 2);
  Tensor targets = Tensor::zeros(shape({rows, states}));
  for (std::int64_t r = 0; r < m_count * rows; ++r) targets.data<float>()[r * states + (r * 7) % states] = 1.f;
  const Tensor weights = testing::random_tensor(shape({rows}), 2, 0.5, 2);
  const Tensor inverse_t = testing::random_tensor(shape({rows}), 3, 0.6, 1.2);
  const Tensor noise = testing::random_tensor(shape({rows, d}), 4);
  Tape tape;
  tape.set_check_finite(false);
  const models::BatchVars batch{tape.constant(inputs), tape.constant(targets), tape.constant(weights),
                                tape.constant(inverse_t), tape.constant(noise)};
  models::LossOptions options;
  options.prior_term = form;
  std::vector<float> betas(m_count, static_cast<float>(config.spib.beta)), taus;
  for (std::int64_t m = 0; m < m_count; ++m) taus.push_back(0.4f + 0.7f * m);
  const models::LossVars loss =
      model_count ? models::stacked_latf_loss(tape, spib, flow, phase, batch, Tensor::from_vector(betas, {m_count}),
                                         Tensor::from_vector(taus, {m_count}), options)
             : models::latf_loss(tape, spib, flow, phase, batch, config.spib.beta, taus[0], options);
  tape.backward(loss.total);
  LossRun run{tape.value(loss.total).clone(), tape.value(loss.prior).clone(), {}, tape.node_count()};
  for (autodiff::ParameterSet* p : {&spib.parameters(), &flow.parameters()}) {
    for (int i = 0; i < p->count(); ++i) run.grads.push_back(p->grad(i).clone());
    p->zero_grad();
  }
  return run;
}

void expect_fused_loss_equals_chain(models::SpibModel& spib, models::RealNvp& flow, int model_count, int states,
                                    const LatfConfig& config) {
  for (const Phase phase : {Phase::Spib, Phase::Joint}) {
    SCOPED_TRACE(models::phase_name(phase));
    const LossRun chain = run_loss(spib, flow, phase, model_count, 29, states, config, models::PriorTermForm::Chain);
    const LossRun fused = run_loss(spib, flow, phase, model_count, 29, states, config, models::PriorTermForm::Fused);
    const LossRun by_device = run_loss(spib, flow, phase, model_count, 29, states, config, models::PriorTermForm::ByDevice);
    EXPECT_LT(fused.nodes, chain.nodes);
    // On the CPU, "by device" is the chain, bit for bit.
    EXPECT_EQ(by_device.nodes, chain.nodes);
    EXPECT_EQ(testing::float_bits(by_device.total), testing::float_bits(chain.total));
    EXPECT_LE(testing::max_relative_error(fused.total, chain.total), 1e-5);
    EXPECT_LE(testing::max_relative_error(fused.prior, chain.prior), 1e-5);
    ASSERT_EQ(fused.grads.size(), chain.grads.size());
    double worst = 0;
    for (std::size_t i = 0; i < chain.grads.size(); ++i) {
      worst = std::max(worst, testing::max_relative_error(fused.grads[i], chain.grads[i]));
      EXPECT_EQ(testing::float_bits(by_device.grads[i]), testing::float_bits(chain.grads[i])) << "parameter " << i;
    }
    EXPECT_LE(worst, 1e-5);
  }
}

TEST(PriorTermsLoss, FusedSingleLossEqualsChain) {
  for (const bool input_dependent : {false, true}) {
    for (const int layers : {2, 0}) {  // 0: the identity flow, no log_det
      SCOPED_TRACE(concat("input_dependent_variance ", input_dependent, ", flow layers ", layers));
      LatfConfig config = testing::base_config();
      config.spib.input_dependent_variance = input_dependent;
      config.flow.layers = layers;
      const models::Dataset data = testing::small_dataset(config);
      LatfModel model = make_model(config, data);
      expect_fused_loss_equals_chain(*model.spib, *model.flow, 0, data.states(), config);
    }
  }
}

TEST(PriorTermsLoss, FusedStackedLossEqualsChain) {
  const std::vector<LatfConfig> configs = testing::varied_configs();
  const models::Dataset data = testing::small_dataset(configs[0]);
  std::vector<LatfModel> singles;
  for (const LatfConfig& c : configs) singles.push_back(make_model(c, data));
  models::SpibModel spib = models::SpibModel::stack({singles[0].spib.get(), singles[1].spib.get(), singles[2].spib.get()});
  models::RealNvp flow = models::RealNvp::stack({singles[0].flow.get(), singles[1].flow.get(), singles[2].flow.get()});
  expect_fused_loss_equals_chain(spib, flow, 3, data.states(), configs[0]);
}

}  // namespace
}  // namespace latf
