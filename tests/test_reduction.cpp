#include <cmath>
#include <string>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/reduction.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

// Independent reference: the exact sum as far as long double (80-bit on x86) can tell.
double reference_weighted_sum(const Tensor& x, const Tensor& w, double scale) {
  const auto xs = x.to_double_vector();
  const auto ws = w.defined() ? w.to_double_vector() : std::vector<double>(xs.size(), 1.0);
  long double total = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) total += static_cast<long double>(ws[i]) * xs[i];
  return static_cast<double>(scale * total);
}

struct SumCase {
  const char* name;
  Shape shape;
  bool weighted;
  double scale;
};
void PrintTo(const SumCase& c, std::ostream* os) { *os << c.name << " scale=" << c.scale; }

class WeightedSumTest : public ::testing::TestWithParam<SumCase> {};

TEST_P(WeightedSumTest, ForwardAndBackwardMatchDoubleReference) {
  const SumCase c = GetParam();
  Tensor x = testing::random_tensor(c.shape, 1, -2, 3);
  Tensor w = c.weighted ? testing::random_tensor(c.shape, 2, 0, 1) : Tensor();
  Tensor out = Tensor::empty({1});
  kernels::weighted_sum_forward(x, w, c.scale, out);
  const double ref = reference_weighted_sum(x, w, c.scale);
  EXPECT_NEAR(out.item(), ref, 1e-6 * std::max(1.0, std::abs(ref)));

  Tensor dx = Tensor::full(c.shape, 0.5), dw = c.weighted ? Tensor::full(c.shape, -1.0) : Tensor();
  kernels::weighted_sum_backward(x, w, c.scale, Tensor::full({1}, 1.5), dx, dw);
  const auto xs = x.to_double_vector(), gx = dx.to_double_vector();
  const auto ws = c.weighted ? w.to_double_vector() : std::vector<double>(xs.size(), 1.0);
  const auto gw = c.weighted ? dw.to_double_vector() : std::vector<double>();
  for (std::size_t i = 0; i < xs.size(); ++i) {
    ASSERT_NEAR(gx[i], 0.5 + c.scale * 1.5 * ws[i], 1e-6) << "dx element " << i;
    if (c.weighted) {
      ASSERT_NEAR(gw[i], -1.0 + c.scale * 1.5 * xs[i], 1e-6) << "dw element " << i;
    }
  }
}

TEST_P(WeightedSumTest, GradientsMatchFiniteDifferences) {
  const SumCase c = GetParam();
  if (c.shape.numel() > 500) GTEST_SKIP() << "finite differences on small cases only";
  std::vector<Tensor> inputs = {testing::random_tensor(c.shape, 3, -1, 1, DType::Float64)};
  if (c.weighted) inputs.push_back(testing::random_tensor(c.shape, 4, -1, 1, DType::Float64));
  const bool weighted = c.weighted;
  const double scale = c.scale;
  auto f = [weighted, scale](autodiff::Tape& tape, const std::vector<autodiff::Var>& in) {
    return std::vector<autodiff::Var>{autodiff::weighted_sum(tape, in[0], weighted ? in[1] : autodiff::Var{}, scale)};
  };
  const auto result = autodiff::check_gradients(f, inputs);
  EXPECT_TRUE(result.passed) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Shapes, WeightedSumTest,
                         ::testing::Values(SumCase{"Scalar", Shape{1}, true, 1.0},
                                           SumCase{"Vector7", Shape{7}, false, 1.0},
                                           SumCase{"Vector7Weighted", Shape{7}, true, -0.3},
                                           SumCase{"Matrix5x3", Shape{5, 3}, true, 2.0},
                                           SumCase{"Rank3", Shape{2, 3, 5}, false, 0.25},
                                           SumCase{"Rank4", Shape{2, 1, 3, 4}, true, 1.0 / 24},
                                           SumCase{"Vector100003", Shape{100003}, true, 1e-3}),
                         [](const ::testing::TestParamInfo<SumCase>& info) { return std::string(info.param.name); });

TEST(WeightedSum, MillionFloatsStayAccurate) {
  // Positive terms of one sign: a float accumulator drifts by ~1e-4 relative here.
  const std::int64_t n = 1 << 20;
  Tensor x = testing::random_tensor({n}, 5, 0.0, 1.0), w = testing::random_tensor({n}, 6, 0.5, 1.5);
  Tensor out = Tensor::empty({1});
  kernels::weighted_sum_forward(x, Tensor(), 1.0, out);
  double ref = reference_weighted_sum(x, Tensor(), 1.0);
  EXPECT_LT(std::abs(out.item() - ref) / ref, 1e-6);
  kernels::weighted_sum_forward(x, w, 1.0 / double(n), out);
  ref = reference_weighted_sum(x, w, 1.0 / double(n));
  EXPECT_LT(std::abs(out.item() - ref) / ref, 1e-6);
}

TEST(WeightedSum, CancellingDoublesUseCompensation) {
  // 1 + 1e100 − 1e100 in plain double summation loses the 1; the compensated sum keeps it.
  Tensor x = Tensor::from_vector(std::vector<double>{1.0, 1e100, 1.0, -1e100}, {4});
  Tensor out = Tensor::empty({1}, Device::cpu(), DType::Float64);
  kernels::weighted_sum_forward(x, Tensor(), 1.0, out);
  EXPECT_EQ(out.to_double_vector()[0], 2.0);
}

TEST(WeightedSum, EmptyInputSumsToZero) {
  Tensor out = Tensor::full({1}, 5.0);
  kernels::weighted_sum_forward(Tensor::zeros({0}), Tensor(), 1.0, out);
  EXPECT_EQ(out.item(), 0.f);
}

TEST(WeightedMean, IsWeightedSumOverElementCount) {
  autodiff::Tape tape;
  Tensor xv = testing::random_tensor({4, 5}, 7), wv = testing::random_tensor({4, 5}, 8, 0, 1);
  autodiff::Var x = tape.variable(xv), w = tape.variable(wv);
  autodiff::Var mean = autodiff::weighted_mean(tape, x, w);
  EXPECT_NEAR(tape.value(mean).item(), reference_weighted_sum(xv, wv, 1.0 / 20), 1e-6);
  tape.backward(mean);
  EXPECT_LT(testing::max_relative_error(tape.grad(x).to_double_vector(),
                                        [&] {
                                          auto g = wv.to_double_vector();
                                          for (double& v : g) v /= 20;
                                          return g;
                                        }()),
            1e-7);
  auto f = [](autodiff::Tape& t, const std::vector<autodiff::Var>& in) {
    return std::vector<autodiff::Var>{autodiff::weighted_mean(t, in[0], in[1])};
  };
  const auto result = autodiff::check_gradients(f, {testing::random_tensor({3, 7}, 9, -1, 1, DType::Float64),
                                                    testing::random_tensor({3, 7}, 10, -1, 1, DType::Float64)});
  EXPECT_TRUE(result.passed) << result.report;
}

TEST(WeightedMean, RejectsEmptyInput) {
  autodiff::Tape tape;
  autodiff::Var x = tape.variable(Tensor::zeros({0, 3}));
  testing::expect_invalid_argument([&] { autodiff::weighted_mean(tape, x, autodiff::Var{}); }, "weighted_mean input x");
}

TEST(WeightedSum, SameValueAsInputAndWeightGetsBothGradients) {
  // Σ x·x: the gradient 2x arrives through both operands of one node.
  autodiff::Tape tape;
  Tensor xv = Tensor::from_vector(std::vector<float>{1.f, -2.f, 3.f}, {3});
  autodiff::Var x = tape.variable(xv);
  tape.backward(autodiff::weighted_sum(tape, x, x));
  EXPECT_EQ(tape.grad(x).to_vector(), (std::vector<float>{2.f, -4.f, 6.f}));
}

TEST(WeightedSum, RejectsBadInputsWithNames) {
  Tensor x = Tensor::zeros({4, 3}), out = Tensor::zeros({1});
  testing::expect_invalid_argument([&] { kernels::weighted_sum_forward(x, Tensor::zeros({3, 4}), 1.0, out); }, "weighted_sum weights");
  testing::expect_invalid_argument([&] {
    kernels::weighted_sum_forward(x, Tensor::zeros({4, 3}, Device::cpu(), DType::Float64), 1.0, out);
  }, "weighted_sum weights");
  testing::expect_invalid_argument([&] {
    Tensor bad = Tensor::zeros({2});
    kernels::weighted_sum_forward(x, Tensor(), 1.0, bad);
  }, "weighted_sum output");
  testing::expect_invalid_argument([&] { kernels::weighted_sum_forward(x, Tensor(), NAN, out); }, "weighted_sum scale");
  testing::expect_invalid_argument([&] { kernels::weighted_sum_forward(Tensor(), Tensor(), 1.0, out); }, "weighted_sum input x");
  Tensor dx = Tensor::zeros({4, 3}), none;
  testing::expect_invalid_argument([&] { kernels::weighted_sum_backward(x, Tensor(), 1.0, Tensor::zeros({3}), dx, none); },
                 "weighted_sum output gradient");
  testing::expect_invalid_argument([&] {
    Tensor bad = Tensor::zeros({12});
    kernels::weighted_sum_backward(x, Tensor(), 1.0, Tensor::zeros({1}), bad, none);
  }, "weighted_sum input gradient dx");
  testing::expect_invalid_argument([&] {
    Tensor dw = Tensor::zeros({4, 3});
    kernels::weighted_sum_backward(x, Tensor(), 1.0, Tensor::zeros({1}), dx, dw);
  }, "weighted_sum weights gradient");
}

}  // namespace
}  // namespace latf
