#include <cmath>
#include <functional>
#include <string>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/cross_entropy.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

// ---- independent double-precision references -------------------------------------------------

std::vector<double> reference_log_softmax(const std::vector<double>& x, std::int64_t n, std::int64_t k) {
  std::vector<double> out(x.size());
  for (std::int64_t i = 0; i < n; ++i) {
    const double* row = x.data() + i * k;
    double m = -INFINITY;
    for (std::int64_t j = 0; j < k; ++j) m = std::max(m, row[j]);
    double s = 0;
    for (std::int64_t j = 0; j < k; ++j) s += std::exp(row[j] - m);
    for (std::int64_t j = 0; j < k; ++j) out[i * k + j] = row[j] - m - std::log(s);
  }
  return out;
}

double reference_cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& weights) {
  const std::int64_t n = logits.dim(0), k = logits.dim(1);
  const auto ls = reference_log_softmax(logits.to_double_vector(), n, k);
  const auto y = targets.to_double_vector();
  const auto w = weights.defined() ? weights.to_double_vector() : std::vector<double>(n, 1.0);
  double total = 0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < k; ++j) total -= w[i] * y[i * k + j] * ls[i * k + j];
  return total / double(n);
}

// d loss / d logits for the loss above, times g.
std::vector<double> reference_cross_entropy_gradient(const Tensor& logits, const Tensor& targets,
                                                     const Tensor& weights, double g) {
  const std::int64_t n = logits.dim(0), k = logits.dim(1);
  const auto ls = reference_log_softmax(logits.to_double_vector(), n, k);
  const auto y = targets.to_double_vector();
  const auto w = weights.defined() ? weights.to_double_vector() : std::vector<double>(n, 1.0);
  std::vector<double> grad(ls.size());
  for (std::int64_t i = 0; i < n; ++i) {
    double mass = 0;
    for (std::int64_t j = 0; j < k; ++j) mass += y[i * k + j];
    for (std::int64_t j = 0; j < k; ++j)
      grad[i * k + j] = g * w[i] / double(n) * (std::exp(ls[i * k + j]) * mass - y[i * k + j]);
  }
  return grad;
}

// One-hot rows (class (7i + 3) mod K) or soft, unnormalised rows in [0, 1) (so Σ_k y ≠ 1 is covered).
Tensor make_targets(std::int64_t n, std::int64_t k, bool one_hot, std::uint64_t seed, DType dtype) {
  if (!one_hot) return testing::random_tensor({n, k}, seed, 0.0, 1.0, dtype);
  std::vector<double> y(n * k, 0.0);
  for (std::int64_t i = 0; i < n; ++i) y[i * k + (7 * i + 3) % k] = 1.0;
  Tensor t = Tensor::from_vector(y, {n, k});
  return t.to(dtype);
}

// ---- log-softmax -------------------------------------------------------------------------------

struct Dims {
  std::int64_t n, k;
};
void PrintTo(const Dims& d, std::ostream* os) { *os << "N=" << d.n << " K=" << d.k; }

class LogSoftmaxTest : public ::testing::TestWithParam<Dims> {};

TEST_P(LogSoftmaxTest, ForwardMatchesDoubleReference) {
  const auto [n, k] = GetParam();
  Tensor x = testing::random_tensor({n, k}, 11, -5, 5);
  Tensor out = Tensor::empty({n, k});
  kernels::log_softmax_forward(x, out);
  EXPECT_LT(testing::max_relative_error(out.to_double_vector(), reference_log_softmax(x.to_double_vector(), n, k)),
            2e-6);
}

TEST_P(LogSoftmaxTest, GradientMatchesFiniteDifferences) {
  const auto [n, k] = GetParam();
  auto f = [](autodiff::Tape& tape, const std::vector<autodiff::Var>& in) {
    return std::vector<autodiff::Var>{autodiff::log_softmax(tape, in[0])};
  };
  const auto result = autodiff::check_gradients(f, {testing::random_tensor({n, k}, 12, -3, 3, DType::Float64)});
  EXPECT_TRUE(result.passed) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Shapes, LogSoftmaxTest,
                         ::testing::Values(Dims{1, 1}, Dims{1, 5}, Dims{7, 3}, Dims{33, 17}, Dims{5, 1}, Dims{64, 2}),
                         [](const ::testing::TestParamInfo<Dims>& info) {
                           return concat("N", info.param.n, "_K", info.param.k);
                         });

TEST(LogSoftmax, HugeLogitsStayFiniteAndExact) {
  const std::vector<float> values = {1e4f, -1e4f, 0.f, 1e4f - 3.f, -3e4f, -3e4f + 1.f};
  Tensor x = Tensor::from_vector(values, {2, 3});
  Tensor out = Tensor::empty({2, 3});
  kernels::log_softmax_forward(x, out);
  const auto got = out.to_double_vector();
  const auto ref = reference_log_softmax(x.to_double_vector(), 2, 3);
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << "element " << i;
    EXPECT_NEAR(got[i], ref[i], 1e-5 * std::max(1.0, std::abs(ref[i]))) << "element " << i;
  }
  Tensor dx = Tensor::zeros({2, 3});
  kernels::log_softmax_backward(out, testing::random_tensor({2, 3}, 3), dx);
  for (double g : dx.to_double_vector()) EXPECT_TRUE(std::isfinite(g));
}

TEST(LogSoftmax, BackwardAccumulatesAndMatchesReference) {
  const std::int64_t n = 6, k = 4;
  Tensor x = testing::random_tensor({n, k}, 21, -2, 2), dout = testing::random_tensor({n, k}, 22);
  Tensor out = Tensor::empty({n, k});
  kernels::log_softmax_forward(x, out);
  Tensor dx = Tensor::full({n, k}, 0.5);
  kernels::log_softmax_backward(out, dout, dx);
  const auto ls = reference_log_softmax(x.to_double_vector(), n, k);
  const auto g = dout.to_double_vector();
  std::vector<double> expected(n * k);
  for (std::int64_t i = 0; i < n; ++i) {
    double total = 0;
    for (std::int64_t j = 0; j < k; ++j) total += g[i * k + j];
    for (std::int64_t j = 0; j < k; ++j)
      expected[i * k + j] = 0.5 + g[i * k + j] - std::exp(ls[i * k + j]) * total;
  }
  EXPECT_LT(testing::max_relative_error(dx.to_double_vector(), expected), 1e-6);
}

TEST(LogSoftmax, EmptyBatchIsFine) {
  Tensor x = Tensor::zeros({0, 3}), out = Tensor::zeros({0, 3});
  EXPECT_NO_THROW(kernels::log_softmax_forward(x, out));
}

TEST(LogSoftmax, RejectsBadInputsWithNames) {
  Tensor out = Tensor::zeros({2, 3});
  testing::expect_invalid_argument([&] { kernels::log_softmax_forward(Tensor::zeros({6}), out); }, "log_softmax logits");
  testing::expect_invalid_argument([&] {
    Tensor none = Tensor::zeros({2, 0});
    kernels::log_softmax_forward(Tensor::zeros({2, 0}), none);
  }, "at least one class");
  testing::expect_invalid_argument([&] {
    Tensor bad = Tensor::zeros({2, 4});
    kernels::log_softmax_forward(Tensor::zeros({2, 3}), bad);
  }, "log_softmax output");
  testing::expect_invalid_argument([&] {
    Tensor bad = Tensor::zeros({2, 3}, Device::cpu(), DType::Float64);
    kernels::log_softmax_forward(Tensor::zeros({2, 3}), bad);
  }, "log_softmax output");
  testing::expect_invalid_argument([&] {
    Tensor dx = Tensor::zeros({2, 3});
    kernels::log_softmax_backward(out, Tensor::zeros({3, 2}), dx);
  }, "log_softmax output gradient");
  testing::expect_invalid_argument([&] {
    Tensor dx = Tensor::zeros({2, 2});
    kernels::log_softmax_backward(out, Tensor::zeros({2, 3}), dx);
  }, "log_softmax logits gradient");
}

// ---- weighted cross-entropy ---------------------------------------------------------------------

struct CeCase {
  std::int64_t n, k;
  bool one_hot, weighted;
};
void PrintTo(const CeCase& c, std::ostream* os) {
  *os << "N=" << c.n << " K=" << c.k << (c.one_hot ? " one-hot" : " soft") << (c.weighted ? " weighted" : "");
}

std::string ce_name(const ::testing::TestParamInfo<CeCase>& info) {
  const CeCase& c = info.param;
  return concat("N", c.n, "_K", c.k, c.one_hot ? "_OneHot" : "_Soft", c.weighted ? "_Weighted" : "_Unweighted");
}

class CrossEntropyTest : public ::testing::TestWithParam<CeCase> {};

TEST_P(CrossEntropyTest, ForwardAndBackwardMatchDoubleReference) {
  const CeCase c = GetParam();
  Tensor x = testing::random_tensor({c.n, c.k}, 31, -4, 4);
  Tensor y = make_targets(c.n, c.k, c.one_hot, 32, DType::Float32);
  Tensor w = c.weighted ? testing::random_tensor({c.n}, 33, 0.1, 2.0) : Tensor();
  Tensor loss = Tensor::empty({1});
  kernels::weighted_cross_entropy_forward(x, y, w, loss);
  const double ref = reference_cross_entropy(x, y, w);
  EXPECT_NEAR(loss.item(), ref, 2e-6 * std::max(1.0, std::abs(ref)));

  Tensor dloss = Tensor::full({1}, 1.7);
  Tensor dx = Tensor::full({c.n, c.k}, -0.25);  // backward must add to what is there
  kernels::weighted_cross_entropy_backward(x, y, w, dloss, dx);
  std::vector<double> expected = reference_cross_entropy_gradient(x, y, w, 1.7);
  for (double& e : expected) e -= 0.25;
  EXPECT_LT(testing::max_relative_error(dx.to_double_vector(), expected), 1e-6);
}

TEST_P(CrossEntropyTest, GradientMatchesFiniteDifferences) {
  const CeCase c = GetParam();
  if (c.n * c.k > 400) GTEST_SKIP() << "finite differences on small cases only";
  std::vector<Tensor> inputs = {testing::random_tensor({c.n, c.k}, 41, -3, 3, DType::Float64),
                                make_targets(c.n, c.k, c.one_hot, 42, DType::Float64)};
  if (c.weighted) inputs.push_back(testing::random_tensor({c.n}, 43, 0.1, 2.0, DType::Float64));
  const bool weighted = c.weighted;
  auto f = [weighted](autodiff::Tape& tape, const std::vector<autodiff::Var>& in) {
    return std::vector<autodiff::Var>{
        autodiff::weighted_cross_entropy(tape, in[0], in[1], weighted ? in[2] : autodiff::Var{})};
  };
  autodiff::GradientCheckOptions options;
  options.differentiable.assign(inputs.size(), false);
  options.differentiable[0] = true;  // targets and weights are data
  const auto result = autodiff::check_gradients(f, inputs, options);
  EXPECT_TRUE(result.passed) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Cases, CrossEntropyTest,
                         ::testing::Values(CeCase{1, 1, true, false}, CeCase{1, 4, true, true},
                                           CeCase{9, 1, false, true}, CeCase{7, 3, true, false},
                                           CeCase{7, 3, true, true}, CeCase{13, 5, false, false},
                                           CeCase{13, 5, false, true}, CeCase{2000, 6, true, true},
                                           CeCase{1025, 33, false, true}),
                         ce_name);

TEST(CrossEntropy, SingleClassGivesZeroLossAndGradient) {
  Tensor x = testing::random_tensor({5, 1}, 1, -100, 100);
  Tensor y = Tensor::full({5, 1}, 1.0), loss = Tensor::empty({1});
  kernels::weighted_cross_entropy_forward(x, y, Tensor(), loss);
  EXPECT_EQ(loss.item(), 0.f);
  Tensor dx = Tensor::zeros({5, 1});
  kernels::weighted_cross_entropy_backward(x, y, Tensor(), Tensor::full({1}, 1.0), dx);
  for (double g : dx.to_double_vector()) EXPECT_EQ(g, 0.0);
}

TEST(CrossEntropy, HugeLogitsStayFiniteAndAccurate) {
  // Row 0 puts its target on a logit 2e4 below the maximum: loss ≈ 2e4, which a naive
  // lse·Σy − Σ y·x form in float would get wrong by whole units.
  const std::vector<float> logits = {1e4f, -1e4f, 0.f, 1e4f - 3.f, -3e4f, -3e4f + 1.f};
  const std::vector<float> targets = {0.f, 1.f, 0.f, 0.2f, 0.3f, 0.5f};
  Tensor x = Tensor::from_vector(logits, {2, 3}), y = Tensor::from_vector(targets, {2, 3});
  Tensor w = Tensor::from_vector(std::vector<float>{0.5f, 2.f}, {2});
  Tensor loss = Tensor::empty({1});
  kernels::weighted_cross_entropy_forward(x, y, w, loss);
  const double ref = reference_cross_entropy(x, y, w);
  ASSERT_TRUE(std::isfinite(loss.item()));
  EXPECT_NEAR(loss.item(), ref, 1e-6 * std::abs(ref));
  Tensor dx = Tensor::zeros({2, 3});
  kernels::weighted_cross_entropy_backward(x, y, w, Tensor::full({1}, 1.0), dx);
  EXPECT_LT(testing::max_relative_error(dx.to_double_vector(), reference_cross_entropy_gradient(x, y, w, 1.0)),
            1e-6);
}

TEST(CrossEntropy, MatchesLogSoftmaxComposition) {
  // The fused loss equals −(1/N) Σ_i w_i Σ_k y_ik · log_softmax_ik computed by the separate op.
  const std::int64_t n = 10, k = 4;
  Tensor x = testing::random_tensor({n, k}, 51, -3, 3), y = make_targets(n, k, false, 52, DType::Float32);
  Tensor w = testing::random_tensor({n}, 53, 0, 1);
  autodiff::Tape tape;
  autodiff::Var logits = tape.variable(x);
  autodiff::Var fused = autodiff::weighted_cross_entropy(tape, logits, tape.constant(y), tape.constant(w));
  const auto ls = tape.value(autodiff::log_softmax(tape, logits)).to_double_vector();
  const auto ys = y.to_double_vector(), ws = w.to_double_vector();
  double composed = 0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < k; ++j) composed -= ws[i] * ys[i * k + j] * ls[i * k + j];
  EXPECT_NEAR(tape.value(fused).item(), composed / n, 1e-5);
}

TEST(CrossEntropy, TargetsAndWeightsGetNoGradient) {
  autodiff::Tape tape;
  autodiff::Var x = tape.variable(testing::random_tensor({3, 2}, 1));
  autodiff::Var y = tape.variable(make_targets(3, 2, true, 2, DType::Float32));
  autodiff::Var w = tape.variable(Tensor::full({3}, 1.0));
  autodiff::Var loss = autodiff::weighted_cross_entropy(tape, x, y, w);
  tape.backward(loss);
  EXPECT_TRUE(tape.grad(x).defined());
  EXPECT_FALSE(tape.grad(y).defined());
  EXPECT_FALSE(tape.grad(w).defined());

  autodiff::Tape data_only;  // constant logits: nothing to differentiate, nothing recorded
  autodiff::weighted_cross_entropy(data_only, data_only.constant(testing::random_tensor({3, 2}, 1)),
                                   data_only.variable(make_targets(3, 2, true, 2, DType::Float32)), autodiff::Var{});
  EXPECT_EQ(data_only.node_count(), 0u);
}

TEST(CrossEntropy, RejectsBadInputsWithNames) {
  Tensor x = Tensor::zeros({4, 3}), y = Tensor::zeros({4, 3}), loss = Tensor::zeros({1});
  testing::expect_invalid_argument([&] {
    Tensor empty = Tensor::zeros({0, 3});
    kernels::weighted_cross_entropy_forward(empty, empty, Tensor(), loss);
  }, "empty batch");
  testing::expect_invalid_argument([&] { kernels::weighted_cross_entropy_forward(Tensor::zeros({12}), y, Tensor(), loss); },
                 "weighted_cross_entropy logits");
  testing::expect_invalid_argument([&] { kernels::weighted_cross_entropy_forward(x, Tensor::zeros({4, 2}), Tensor(), loss); },
                 "weighted_cross_entropy targets");
  testing::expect_invalid_argument([&] {
    kernels::weighted_cross_entropy_forward(x, Tensor::zeros({4, 3}, Device::cpu(), DType::Float64), Tensor(), loss);
  }, "weighted_cross_entropy targets");
  testing::expect_invalid_argument([&] { kernels::weighted_cross_entropy_forward(x, y, Tensor::zeros({3}), loss); },
                 "weighted_cross_entropy weights");
  testing::expect_invalid_argument([&] {
    Tensor bad = Tensor::zeros({2});
    kernels::weighted_cross_entropy_forward(x, y, Tensor(), bad);
  }, "weighted_cross_entropy loss");
  testing::expect_invalid_argument([&] {
    Tensor dx = Tensor::zeros({4, 3});
    kernels::weighted_cross_entropy_backward(x, y, Tensor(), Tensor::zeros({2}), dx);
  }, "weighted_cross_entropy loss gradient");
  testing::expect_invalid_argument([&] {
    Tensor dx = Tensor::zeros({3, 4});
    kernels::weighted_cross_entropy_backward(x, y, Tensor(), Tensor::zeros({1}), dx);
  }, "weighted_cross_entropy logits gradient");
}

}  // namespace
}  // namespace latf
