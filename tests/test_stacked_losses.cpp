// The model-stacked form of the loss-side ops: log_softmax, weighted_cross_entropy (one loss per
// model), model_weighted_mean (the per-model form of weighted_sum) and the tilted log-density with
// one tau per model. M models in one call equal M single-form calls bit for bit, gradients match
// finite differences, and bad stacked operands are named.
#include <cmath>
#include <string>
#include <vector>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/cross_entropy.hpp"
#include "kernels/reduction.hpp"
#include "kernels/tilted.hpp"
#include "tests/stacked_cases.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::Tape;
using testing::expect_same_bits;
using autodiff::Var;

Tensor slice(const Tensor& t, std::int64_t m) { return testing::model_slice(t, m); }


Tensor start(const Shape& shape, std::uint64_t seed, DType dtype = DType::Float32) {
  return testing::random_tensor(shape, seed, -0.5, 0.5, dtype);
}

// Non-negative soft targets (rows need not sum to 1: the formula takes any mass).
Tensor soft_targets(const Shape& shape, std::uint64_t seed, DType dtype = DType::Float32) {
  return testing::random_tensor(shape, seed, 0.0, 1.0, dtype);
}

using Case = testing::StackedLossCase;
const auto case_name = testing::stacked_loss_case_name;

class StackedLosses : public ::testing::TestWithParam<Case> {};

// ---------------------------------------------------------------- (a) stacked = M single calls, bit for bit

TEST_P(StackedLosses, LogSoftmaxEqualsSingleCallsPerModel) {
  const Case c = GetParam();
  const Tensor logits = testing::random_tensor({c.models, c.n, c.k}, 1, -4, 4);
  const Tensor dout = testing::random_tensor({c.models, c.n, c.k}, 2);
  Tensor out = Tensor::empty(logits.shape());
  kernels::log_softmax_forward(logits, out);
  Tensor dlogits = start(logits.shape(), 3);
  const Tensor dlogits0 = dlogits.clone();
  kernels::log_softmax_backward(out, dout, dlogits);
  for (std::int64_t m = 0; m < c.models; ++m) {
    Tensor out_m = Tensor::empty({c.n, c.k});
    kernels::log_softmax_forward(slice(logits, m), out_m);
    expect_same_bits(slice(out, m), out_m, "log_softmax of model " + std::to_string(m));
    Tensor d_m = slice(dlogits0, m).clone();
    kernels::log_softmax_backward(out_m, slice(dout, m), d_m);
    expect_same_bits(slice(dlogits, m), d_m, "dlogits of model " + std::to_string(m));
  }
}

TEST_P(StackedLosses, WeightedCrossEntropyEqualsSingleCallsPerModel) {
  const Case c = GetParam();
  const Tensor logits = testing::random_tensor({c.models, c.n, c.k}, 10, -4, 4);
  const Tensor targets = soft_targets(logits.shape(), 11);
  const Tensor weights = c.weighted ? testing::random_tensor({c.models, c.n}, 12, 0.1, 2.0) : Tensor();
  const Tensor dloss = testing::random_tensor({c.models}, 13, 0.5, 2.0);  // differs per model
  Tensor loss = Tensor::empty({c.models});
  kernels::weighted_cross_entropy_forward(logits, targets, weights, loss);
  Tensor dlogits = start(logits.shape(), 14);
  const Tensor dlogits0 = dlogits.clone();
  kernels::weighted_cross_entropy_backward(logits, targets, weights, dloss, dlogits);
  for (std::int64_t m = 0; m < c.models; ++m) {
    const Tensor w_m = c.weighted ? slice(weights, m) : Tensor();
    Tensor loss_m = Tensor::empty({1});
    kernels::weighted_cross_entropy_forward(slice(logits, m), slice(targets, m), w_m, loss_m);
    expect_same_bits(slice(loss, m), loss_m, "loss of model " + std::to_string(m));
    Tensor d_m = slice(dlogits0, m).clone();
    kernels::weighted_cross_entropy_backward(slice(logits, m), slice(targets, m), w_m, slice(dloss, m), d_m);
    expect_same_bits(slice(dlogits, m), d_m, "dlogits of model " + std::to_string(m));
  }
}

TEST_P(StackedLosses, ModelWeightedMeanEqualsSingleWeightedMeanPerModel) {
  const Case c = GetParam();
  const Tensor x = testing::random_tensor({c.models, c.n, c.k}, 20, -3, 3);
  const Tensor weights = c.weighted ? testing::random_tensor({c.models, c.n, c.k}, 21, 0, 2) : Tensor();
  Tape tape;
  Var xv = tape.variable(x);
  Var wv = c.weighted ? tape.variable(weights) : Var{};
  Var out = autodiff::model_weighted_mean(tape, xv, wv);
  ASSERT_EQ(tape.value(out).shape(), (Shape{c.models}));
  const Tensor seed = testing::random_tensor({c.models}, 22, 0.5, 2.0);
  tape.backward(out, seed);
  for (std::int64_t m = 0; m < c.models; ++m) {
    const std::string model = " of model " + std::to_string(m);
    Tape single;
    Var xm = single.variable(slice(x, m).clone());
    Var wm = c.weighted ? single.variable(slice(weights, m).clone()) : Var{};
    Var mean_m = autodiff::weighted_mean(single, xm, wm);
    single.backward(mean_m, slice(seed, m).clone());
    expect_same_bits(slice(tape.value(out), m), single.value(mean_m), "mean" + model);
    expect_same_bits(slice(tape.grad(xv), m), single.grad(xm), "dx" + model);
    if (c.weighted) expect_same_bits(slice(tape.grad(wv), m), single.grad(wm), "dweights" + model);
  }
  // Against an independent double reference as well.
  const std::vector<double> xs = x.to_double_vector();
  const std::vector<double> ws = c.weighted ? weights.to_double_vector() : std::vector<double>(xs.size(), 1.0);
  const std::int64_t per = c.n * c.k;
  const std::vector<double> got = tape.value(out).to_double_vector();
  for (std::int64_t m = 0; m < c.models; ++m) {
    double total = 0.0;
    for (std::int64_t i = 0; i < per; ++i) total += ws[m * per + i] * xs[m * per + i];
    EXPECT_NEAR(got[m], total / double(per), 1e-6 * std::max(1.0, std::abs(total / double(per))));
  }
}

TEST_P(StackedLosses, TiltedDensityWithPerModelTausEqualsSingleCallsPerModel) {
  const Case c = GetParam();
  const std::int64_t d = c.k;
  const Tensor z = testing::random_tensor({c.models, c.n, d}, 30, -2, 2);
  const Tensor b = testing::random_tensor({c.models, c.n}, 31, 0.3, 2.0);
  const Tensor log_norm = c.weighted ? testing::random_tensor({c.models, c.n}, 32, -1, 1) : Tensor();
  const Tensor taus = testing::random_tensor({c.models}, 33, 0.0, 3.0);  // one tilt per model
  const Tensor dout = testing::random_tensor({c.models, c.n}, 34);
  Tensor out = Tensor::empty({c.models, c.n});
  kernels::tilted_log_density_forward(z, b, log_norm, taus, out);
  Tensor dz = start(z.shape(), 35);
  const Tensor dz0 = dz.clone();
  kernels::tilted_log_density_backward(z, b, taus, dout, dz);
  const std::vector<float> tau = taus.to_vector();
  for (std::int64_t m = 0; m < c.models; ++m) {
    const std::string model = " of model " + std::to_string(m);
    Tensor out_m = Tensor::empty({c.n});
    kernels::tilted_log_density_forward(slice(z, m), slice(b, m), c.weighted ? slice(log_norm, m) : Tensor(), tau[m],
                                        out_m);
    expect_same_bits(slice(out, m), out_m, "density" + model);
    Tensor dz_m = slice(dz0, m).clone();
    kernels::tilted_log_density_backward(slice(z, m), slice(b, m), tau[m], slice(dout, m), dz_m);
    expect_same_bits(slice(dz, m), dz_m, "dz" + model);
  }
  // The tape op: output [M, N], gradient to z through the kernel.
  Tape tape;
  Var zv = tape.variable(z);
  Var out_v = autodiff::tilted_log_density(tape, zv, tape.constant(b), c.weighted ? tape.constant(log_norm) : Var{}, taus);
  EXPECT_EQ(testing::float_bits(tape.value(out_v)), testing::float_bits(out));
  tape.backward(out_v, dout);
  Tensor dz_tape = Tensor::zeros(z.shape());
  kernels::tilted_log_density_backward(z, b, taus, dout, dz_tape);
  EXPECT_EQ(testing::float_bits(tape.grad(zv)), testing::float_bits(dz_tape));
}

// ---------------------------------------------------------------- (b) finite differences (float64)

TEST_P(StackedLosses, LogSoftmaxGradientsMatchFiniteDifferences) {
  const Case c = GetParam();
  auto f = [](Tape& tape, const std::vector<Var>& in) { return std::vector<Var>{autodiff::log_softmax(tape, in[0])}; };
  const auto result =
      autodiff::check_gradients(f, {testing::random_tensor({c.models, c.n, c.k}, 40, -3, 3, DType::Float64)});
  EXPECT_TRUE(result.passed) << result.report;
}

TEST_P(StackedLosses, CrossEntropyGradientsMatchFiniteDifferences) {
  const Case c = GetParam();
  const bool weighted = c.weighted;
  auto f = [weighted](Tape& tape, const std::vector<Var>& in) {
    return std::vector<Var>{autodiff::weighted_cross_entropy(tape, in[0], in[1], weighted ? in[2] : Var{})};
  };
  const auto f64 = DType::Float64;
  std::vector<Tensor> inputs = {testing::random_tensor({c.models, c.n, c.k}, 41, -3, 3, f64),
                                soft_targets({c.models, c.n, c.k}, 42, f64)};
  if (weighted) inputs.push_back(testing::random_tensor({c.models, c.n}, 43, 0.1, 2.0, f64));
  autodiff::GradientCheckOptions options;
  options.differentiable = std::vector<bool>(inputs.size(), false);
  options.differentiable[0] = true;  // targets and weights are data
  const auto result = autodiff::check_gradients(f, inputs, options);
  EXPECT_TRUE(result.passed) << result.report;
}

TEST_P(StackedLosses, ModelWeightedMeanGradientsMatchFiniteDifferences) {
  const Case c = GetParam();
  const bool weighted = c.weighted;
  auto f = [weighted](Tape& tape, const std::vector<Var>& in) {
    return std::vector<Var>{autodiff::model_weighted_mean(tape, in[0], weighted ? in[1] : Var{})};
  };
  const auto f64 = DType::Float64;
  std::vector<Tensor> inputs = {testing::random_tensor({c.models, c.n, c.k}, 44, -3, 3, f64)};
  if (weighted) inputs.push_back(testing::random_tensor({c.models, c.n, c.k}, 45, 0, 2, f64));
  const auto result = autodiff::check_gradients(f, inputs);
  EXPECT_TRUE(result.passed) << result.report;
}

TEST_P(StackedLosses, TiltedDensityGradientsMatchFiniteDifferences) {
  const Case c = GetParam();
  const Tensor taus = testing::random_tensor({c.models}, 46, 0.2, 3.0);
  const bool normalised = c.weighted;
  auto f = [taus, normalised](Tape& tape, const std::vector<Var>& in) {
    return std::vector<Var>{autodiff::tilted_log_density(tape, in[0], in[1], normalised ? in[2] : Var{}, taus)};
  };
  const auto f64 = DType::Float64;
  std::vector<Tensor> inputs = {testing::random_tensor({c.models, c.n, c.k}, 47, -2, 2, f64),
                                testing::random_tensor({c.models, c.n}, 48, 0.3, 2.0, f64)};
  if (normalised) inputs.push_back(testing::random_tensor({c.models, c.n}, 49, -1, 1, f64));
  autodiff::GradientCheckOptions options;
  options.differentiable = std::vector<bool>(inputs.size(), false);
  options.differentiable[0] = true;  // temperatures and normalisers are data
  const auto result = autodiff::check_gradients(f, inputs, options);
  EXPECT_TRUE(result.passed) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Shapes, StackedLosses,
                         ::testing::Values(Case{1, 5, 3, false}, Case{1, 6, 2, true}, Case{3, 1, 1, true},
                                           Case{3, 7, 4, false}, Case{3, 19, 5, true}, Case{2, 33, 3, true}),
                         case_name);

// ---------------------------------------------------------------- per-model weighted_sum kernel

TEST(StackedReduction, WeightedSumWithPerModelOutputSumsEachSlice) {
  const Tensor x = testing::random_tensor({3, 5, 2}, 50, -2, 2);
  const Tensor w = testing::random_tensor({3, 5, 2}, 51, 0, 1);
  Tensor per_model = Tensor::empty({3}), all = Tensor::empty({1});
  kernels::weighted_sum_forward(x, w, 0.5, per_model);
  kernels::weighted_sum_forward(x, w, 0.5, all);  // [1] keeps the sum of everything
  const std::vector<double> xs = x.to_double_vector(), ws = w.to_double_vector();
  double everything = 0.0;
  for (std::int64_t m = 0; m < 3; ++m) {
    double total = 0.0;
    for (std::int64_t i = 0; i < 10; ++i) total += ws[m * 10 + i] * xs[m * 10 + i];
    everything += total;
    EXPECT_NEAR(per_model.to_double_vector()[m], 0.5 * total, 1e-6);
  }
  EXPECT_NEAR(all.item(), 0.5 * everything, 1e-6);
  // Backward with dout [M] accumulates each model's own dout.
  const Tensor dout = Tensor::from_vector(std::vector<float>{1.f, -2.f, 3.f}, {3});
  Tensor dx = Tensor::full(x.shape(), 1.0), dw = Tensor::zeros(x.shape());
  kernels::weighted_sum_backward(x, w, 0.5, dout, dx, dw);
  const std::vector<double> g = dx.to_double_vector(), gw = dw.to_double_vector(), douts = dout.to_double_vector();
  for (std::int64_t i = 0; i < 30; ++i) {
    EXPECT_FLOAT_EQ(g[i], 1.0 + 0.5 * douts[i / 10] * ws[i]);
    EXPECT_FLOAT_EQ(gw[i], 0.5 * douts[i / 10] * xs[i]);
  }
}

// ---------------------------------------------------------------- dead classes of the cross-entropy

// A class column of logit −1e30 whose target is 0 everywhere must leave the loss and the other
// gradients exactly as if the column were absent, and receive exactly 0 gradient.
Tensor drop_column(const Tensor& t, std::int64_t column) {
  const std::int64_t rows = t.numel() / t.dim(t.rank() - 1), k = t.dim(t.rank() - 1);
  const std::vector<double> v = t.to_double_vector();
  std::vector<double> kept;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < k; ++j)
      if (j != column) kept.push_back(v[r * k + j]);
  const Shape shape = t.rank() == 3 ? Shape{t.dim(0), t.dim(1), k - 1} : Shape{t.dim(0), k - 1};
  return Tensor::from_vector(kept, shape).to(t.dtype());
}

TEST(StackedLossesDeadClass, MinusHugeLogitColumnWithZeroTargetIsExactlyAbsent) {
  const std::int64_t n = 37, k = 5;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (bool weighted : {false, true}) {
      for (std::int64_t dead : {std::int64_t{0}, std::int64_t{2}, k - 1}) {
        SCOPED_TRACE(std::string(dtype_name(dtype)) + (weighted ? " weighted" : "") + " dead column " +
                     std::to_string(dead));
        std::vector<double> x = testing::random_tensor({n, k}, 60, -3, 3, DType::Float64).to_double_vector();
        std::vector<double> y = soft_targets({n, k}, 61, DType::Float64).to_double_vector();
        for (std::int64_t i = 0; i < n; ++i) {
          x[i * k + dead] = -1e30;
          y[i * k + dead] = 0.0;
        }
        const Tensor logits = Tensor::from_vector(x, {n, k}).to(dtype);
        const Tensor targets = Tensor::from_vector(y, {n, k}).to(dtype);
        const Tensor weights = weighted ? testing::random_tensor({n}, 62, 0.1, 2, dtype) : Tensor();
        const Tensor dloss = Tensor::full({1}, 1.5, Device::cpu(), dtype);
        const Tensor logits_kept = drop_column(logits, dead), targets_kept = drop_column(targets, dead);
        Tensor loss = Tensor::empty({1}, Device::cpu(), dtype), loss_kept = Tensor::empty({1}, Device::cpu(), dtype);
        kernels::weighted_cross_entropy_forward(logits, targets, weights, loss);
        kernels::weighted_cross_entropy_forward(logits_kept, targets_kept, weights, loss_kept);
        EXPECT_EQ(loss.to_double_vector(), loss_kept.to_double_vector());
        Tensor d = Tensor::zeros(logits.shape(), Device::cpu(), dtype);
        Tensor d_kept = Tensor::zeros(logits_kept.shape(), Device::cpu(), dtype);
        kernels::weighted_cross_entropy_backward(logits, targets, weights, dloss, d);
        kernels::weighted_cross_entropy_backward(logits_kept, targets_kept, weights, dloss, d_kept);
        const std::vector<double> g = d.to_double_vector(), g_kept = d_kept.to_double_vector();
        for (std::int64_t i = 0; i < n; ++i)
          for (std::int64_t j = 0, kept = 0; j < k; ++j) {
            if (j == dead) {
              EXPECT_EQ(g[i * k + j], 0.0) << "row " << i;
            } else {
              EXPECT_EQ(g[i * k + j], g_kept[i * (k - 1) + kept]) << "row " << i << " class " << j;
              ++kept;
            }
          }
      }
    }
  }
}

TEST(StackedLossesDeadClass, StackedModelWithDeadColumnMatchesItsSingleFormWithoutIt) {
  const std::int64_t models = 2, n = 23, k = 4, dead = 3;
  std::vector<float> x = testing::random_tensor({models, n, k}, 70, -3, 3).to_vector();
  std::vector<float> y = soft_targets({models, n, k}, 71).to_vector();
  for (std::int64_t i = 0; i < n; ++i) {  // only model 1 has the dead class
    x[(n + i) * k + dead] = -1e30f;
    y[(n + i) * k + dead] = 0.f;
  }
  const Tensor logits = Tensor::from_vector(x, {models, n, k}), targets = Tensor::from_vector(y, {models, n, k});
  const Tensor weights = testing::random_tensor({models, n}, 72, 0.1, 2);
  const Tensor dloss = Tensor::from_vector(std::vector<float>{0.7f, 1.3f}, {models});
  Tensor loss = Tensor::empty({models}), d = Tensor::zeros(logits.shape());
  kernels::weighted_cross_entropy_forward(logits, targets, weights, loss);
  kernels::weighted_cross_entropy_backward(logits, targets, weights, dloss, d);
  const Tensor logits1 = drop_column(slice(logits, 1).clone(), dead), targets1 = drop_column(slice(targets, 1).clone(), dead);
  Tensor loss1 = Tensor::empty({1}), d1 = Tensor::zeros(logits1.shape());
  kernels::weighted_cross_entropy_forward(logits1, targets1, slice(weights, 1), loss1);
  kernels::weighted_cross_entropy_backward(logits1, targets1, slice(weights, 1), slice(dloss, 1), d1);
  expect_same_bits(slice(loss, 1), loss1, "loss of model 1");
  const std::vector<float> g = d.to_vector(), g1 = d1.to_vector();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < k; ++j) {
      const float got = g[(n + i) * k + j];
      if (j == dead) {
        EXPECT_EQ(got, 0.f);
      } else {
        EXPECT_EQ(got, g1[i * (k - 1) + j]);  // the dead column is the last one
      }
    }
}

// ---------------------------------------------------------------- (c) bad input

TEST(StackedLossesBadInput, CrossEntropyRejectsWrongModelCountsAndMixedForms) {
  const Tensor logits = Tensor::zeros({3, 4, 2}), targets = Tensor::zeros({3, 4, 2});
  Tensor loss = Tensor::zeros({3});
  testing::expect_invalid_argument([&] { kernels::weighted_cross_entropy_forward(logits, Tensor::zeros({2, 4, 2}), Tensor(), loss); },
                                   "weighted_cross_entropy targets");
  testing::expect_invalid_argument([&] { kernels::weighted_cross_entropy_forward(logits, Tensor::zeros({4, 2}), Tensor(), loss); },
                                   "weighted_cross_entropy targets");
  testing::expect_invalid_argument_all([&] { kernels::weighted_cross_entropy_forward(logits, targets, Tensor::zeros({4}), loss); },
                                       {"weighted_cross_entropy weights", "[3, 4]"});
  testing::expect_invalid_argument([&] { kernels::weighted_cross_entropy_forward(logits, targets, Tensor::zeros({2, 4}), loss); },
                                   "weighted_cross_entropy weights");
  Tensor scalar_loss = Tensor::zeros({1});
  testing::expect_invalid_argument_all([&] { kernels::weighted_cross_entropy_forward(logits, targets, Tensor(), scalar_loss); },
                                       {"weighted_cross_entropy loss", "[3]"});
  Tensor d = Tensor::zeros({3, 4, 2});
  testing::expect_invalid_argument([&] { kernels::weighted_cross_entropy_backward(logits, targets, Tensor(), Tensor::zeros({1}), d); },
                                   "weighted_cross_entropy loss gradient");
  testing::expect_invalid_argument([&] { kernels::weighted_cross_entropy_forward(Tensor::zeros({3, 0, 2}), Tensor::zeros({3, 0, 2}), Tensor(), loss); },
                                   "at least one row per model");
  Tensor out4 = Tensor::zeros({3, 4, 2, 1});
  testing::expect_invalid_argument([&] { kernels::log_softmax_forward(Tensor::zeros({3, 4, 2, 1}), out4); }, "log_softmax logits");
  Tensor flat = Tensor::zeros({12, 2});
  testing::expect_invalid_argument([&] { kernels::log_softmax_forward(logits, flat); }, "log_softmax output");
}

TEST(StackedLossesBadInput, ModelWeightedMeanRejectsMismatchedOperands) {
  Tape tape;
  Var x = tape.variable(Tensor::zeros({3, 4}));
  testing::expect_invalid_argument([&] { autodiff::model_weighted_mean(tape, x, tape.constant(Tensor::zeros({2, 4}))); },
                                   "weighted_sum weights");
  testing::expect_invalid_argument([&] { autodiff::model_weighted_mean(tape, tape.variable(Tensor::zeros({3, 0})), Var{}); },
                                   "model_weighted_mean input x");
  Tensor out = Tensor::zeros({2});
  testing::expect_invalid_argument_all([&] { kernels::weighted_sum_forward(Tensor::zeros({3, 4}), Tensor(), 1.0, out); },
                                       {"weighted_sum output", "[3]"});
  Tensor dx = Tensor::zeros({3, 4}), none;
  testing::expect_invalid_argument(
      [&] { kernels::weighted_sum_backward(Tensor::zeros({3, 4}), Tensor(), 1.0, Tensor::zeros({4}), dx, none); },
      "weighted_sum output gradient");
}

TEST(StackedLossesBadInput, TiltedDensityRejectsBadTausAndMixedForms) {
  const Tensor z = Tensor::zeros({3, 4, 2}), b = Tensor::full({3, 4}, 1.0), taus = Tensor::full({3}, 1.0);
  Tensor out = Tensor::zeros({3, 4});
  testing::expect_invalid_argument_all([&] { kernels::tilted_log_density_forward(z, b, Tensor(), Tensor::full({2}, 1.0), out); },
                                       {"tilted density taus", "[3]"});
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(z, b, Tensor(), Tensor(), out); },
                                   "tilted density taus");
  testing::expect_invalid_argument(
      [&] { kernels::tilted_log_density_forward(z, b, Tensor(), Tensor::full({3}, 1.0, Device::cpu(), DType::Float64), out); },
      "taus: expected dtype float32");
  Tensor bad_tau = Tensor::from_vector(std::vector<float>{1.f, NAN, 2.f}, {3});
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(z, b, Tensor(), bad_tau, out); },
                                   "tilted density taus: expected finite");
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(z, Tensor::full({4}, 1.0), Tensor(), taus, out); },
                                   "tilted density inverse_temperature");
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(z, Tensor::full({2, 4}, 1.0), Tensor(), taus, out); },
                                   "tilted density inverse_temperature");
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(z, b, Tensor::zeros({4}), taus, out); },
                                   "tilted density log_normalizer");
  Tensor single_z_out = Tensor::zeros({4});
  testing::expect_invalid_argument_all(
      [&] { kernels::tilted_log_density_forward(Tensor::zeros({4, 2}), Tensor::full({4}, 1.0), Tensor(), Tensor::full({1}, 1.0), single_z_out); },
      {"tilted density input z", "stacked"});
  Tensor flat_out = Tensor::zeros({12});
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_forward(z, b, Tensor(), taus, flat_out); },
                                   "tilted density output");
  Tensor dz = Tensor::zeros({3, 4, 2});
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_backward(z, b, taus, Tensor::zeros({4}), dz); },
                                   "tilted density output gradient dout");
  Tensor bad_dz = Tensor::zeros({4, 2});
  testing::expect_invalid_argument([&] { kernels::tilted_log_density_backward(z, b, taus, out, bad_dz); },
                                   "tilted density input gradient dz");
}

}  // namespace
}  // namespace latf
