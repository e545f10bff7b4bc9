#include <Eigen/Dense>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/linear.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using kernels::Activation;

// Independent double-precision reference: act(X Wᵀ + b) with Eigen.
Eigen::MatrixXd reference(const Tensor& x, const Tensor& w, const Tensor& b, Activation act, double alpha) {
  const auto xs = x.to_double_vector(), ws = w.to_double_vector(), bs = b.to_double_vector();
  const Eigen::Index n = x.dim(0), in = x.dim(1), out = w.dim(0);
  Eigen::MatrixXd X(n, in), W(out, in);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < in; ++j) X(i, j) = xs[i * in + j];
  for (Eigen::Index i = 0; i < out; ++i)
    for (Eigen::Index j = 0; j < in; ++j) W(i, j) = ws[i * in + j];
  Eigen::MatrixXd Y = X * W.transpose();
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index o = 0; o < out; ++o) {
      const double v = Y(i, o) + bs[o];
      Y(i, o) = act == Activation::Identity ? v : v > 0 ? v : act == Activation::ReLU ? 0.0 : alpha * v;
    }
  return Y;
}

struct LinearCase {
  std::int64_t n, in, out;
  Activation act;
};

std::string linear_case_name(const ::testing::TestParamInfo<LinearCase>& info) {
  static const char* const activation_names[] = {"identity", "relu", "leaky"};
  const LinearCase& c = info.param;
  return "n" + std::to_string(c.n) + "_in" + std::to_string(c.in) + "_out" + std::to_string(c.out) + "_" +
         activation_names[static_cast<int>(c.act)];
}

class LinearTest : public ::testing::TestWithParam<LinearCase> {};

TEST_P(LinearTest, ForwardMatchesEigenReference) {
  const LinearCase c = GetParam();
  Tensor x = testing::random_tensor({c.n, c.in}, 1);
  Tensor w = testing::random_tensor({c.out, c.in}, 2);
  Tensor b = testing::random_tensor({c.out}, 3);
  Tensor y = Tensor::empty({c.n, c.out});
  kernels::linear_forward(x, w, b, c.act, 0.1f, y);
  const Eigen::MatrixXd ref = reference(x, w, b, c.act, 0.1);
  const auto ys = y.to_double_vector();
  double worst = 0;
  for (Eigen::Index i = 0; i < ref.rows(); ++i)
    for (Eigen::Index o = 0; o < ref.cols(); ++o) worst = std::max(worst, std::abs(ys[i * c.out + o] - ref(i, o)));
  EXPECT_LT(worst, 1e-5 * std::max<double>(1.0, std::sqrt(double(c.in))));
}

TEST_P(LinearTest, GradientsMatchFiniteDifferences) {
  const LinearCase c = GetParam();
  const std::int64_t rows = std::min<std::int64_t>(c.n, 5);  // finite differences cost O(inputs²)
  auto f = [&](autodiff::Tape& tape, const std::vector<autodiff::Var>& in) {
    return std::vector<autodiff::Var>{autodiff::linear(tape, in[0], in[1], in[2], c.act, 0.1f)};
  };
  const std::vector<Tensor> inputs = {testing::random_tensor({rows, c.in}, 4, -1, 1, DType::Float64),
                                      testing::random_tensor({c.out, c.in}, 5, -1, 1, DType::Float64),
                                      testing::random_tensor({c.out}, 6, -1, 1, DType::Float64)};
  const auto result = autodiff::check_gradients(f, inputs);
  EXPECT_TRUE(result.passed) << result.report;
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearTest,
                         ::testing::Values(LinearCase{1, 2, 16, Activation::Identity},
                                           LinearCase{7, 3, 5, Activation::ReLU},
                                           LinearCase{9, 16, 16, Activation::LeakyReLU},
                                           LinearCase{33, 17, 2, Activation::LeakyReLU},
                                           LinearCase{300, 70, 33, Activation::ReLU}),
                         linear_case_name);

TEST(Linear, RejectsMismatchedShapesWithNames) {
  Tensor x = Tensor::zeros({4, 3}), w = Tensor::zeros({5, 2}), b = Tensor::zeros({5}), y = Tensor::zeros({4, 5});
  try {
    kernels::linear_forward(x, w, b, Activation::Identity, 0.f, y);
    FAIL() << "expected an exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("linear weight"), std::string::npos) << e.what();
  }
  Tensor w_ok = Tensor::zeros({5, 3});
  EXPECT_THROW(kernels::linear_forward(x, w_ok, Tensor::zeros({4}), Activation::Identity, 0.f, y), InvalidArgument);
  EXPECT_THROW(kernels::linear_forward(x, w_ok, b, Activation::LeakyReLU, -1.f, y), InvalidArgument);
  Tensor y_bad = Tensor::zeros({4, 4});
  EXPECT_THROW(kernels::linear_forward(x, w_ok, b, Activation::Identity, 0.f, y_bad), InvalidArgument);
}

TEST(Linear, NoGradModeRecordsNothing) {
  autodiff::Tape tape;
  autodiff::Var x = tape.variable(Tensor::zeros({2, 3}));
  autodiff::Var w = tape.variable(Tensor::zeros({4, 3}));
  autodiff::Var b = tape.variable(Tensor::zeros({4}));
  {
    autodiff::NoGradGuard guard(tape);
    autodiff::linear(tape, x, w, b);
  }
  EXPECT_EQ(tape.node_count(), 0u);
  autodiff::linear(tape, x, w, b);
  EXPECT_EQ(tape.node_count(), 1u);
}

TEST(Tape, ParameterGradientsAccumulateUntilZeroed) {
  Tensor w = Tensor::from_vector(std::vector<float>{2.f}, {1, 1});
  Tensor b = Tensor::zeros({1});
  Tensor dw = Tensor::zeros({1, 1}), db = Tensor::zeros({1});
  for (int step = 0; step < 2; ++step) {
    autodiff::Tape tape;
    autodiff::Var x = tape.constant(Tensor::from_vector(std::vector<float>{3.f}, {1, 1}));
    autodiff::Var y = autodiff::linear(tape, x, tape.parameter(w, dw), tape.parameter(b, db));
    tape.backward(y);
  }
  EXPECT_FLOAT_EQ(dw.item(), 6.f);  // 2 × x
  EXPECT_FLOAT_EQ(db.item(), 2.f);
}

}  // namespace
}  // namespace latf

namespace latf {
namespace {

TEST(TapeCheckMode, RejectsNonFiniteInputsAndOutputsByName) {
  autodiff::Tape tape;
  Tensor bad = Tensor::from_vector(std::vector<float>{1.f, NAN}, {1, 2});
  try {
    tape.constant(bad);
    FAIL() << "expected an exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("tape constant"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("flat index 1"), std::string::npos) << e.what();
  }
  // Finite inputs whose product overflows: the op that made the Inf is named.
  autodiff::Var x = tape.constant(Tensor::from_vector(std::vector<float>{3e38f}, {1, 1}));
  autodiff::Var w = tape.variable(Tensor::from_vector(std::vector<float>{10.f}, {1, 1}));
  autodiff::Var b = tape.variable(Tensor::zeros({1}));
  try {
    autodiff::linear(tape, x, w, b);
    FAIL() << "expected an exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("output of linear"), std::string::npos) << e.what();
  }
  tape.set_check_finite(false);
  EXPECT_NO_THROW(tape.constant(bad));
}

}  // namespace
}  // namespace latf
