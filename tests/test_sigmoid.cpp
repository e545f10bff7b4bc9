#include <cmath>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/sigmoid.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

TEST(ScaledSigmoid, ForwardMatchesReferenceAndStaysFinite) {
  Tensor x = Tensor::from_vector(std::vector<float>{-1000.f, -3.f, 0.f, 0.5f, 3.f, 1000.f}, {2, 3});
  Tensor y = Tensor::empty(x.shape());
  kernels::scaled_sigmoid_forward(x, -10.0, y);
  const auto xs = x.to_double_vector(), ys = y.to_double_vector();
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double expected = -10.0 / (1.0 + std::exp(-xs[i]));
    EXPECT_NEAR(ys[i], expected, 1e-5) << "x = " << xs[i];
    EXPECT_TRUE(std::isfinite(ys[i]));
  }
}

TEST(ScaledSigmoid, GradientMatchesFiniteDifferences) {
  for (double scale : {-10.0, 1.0, 3.5}) {
    auto f = [scale](autodiff::Tape& tape, const std::vector<autodiff::Var>& in) {
      return std::vector<autodiff::Var>{autodiff::scaled_sigmoid(tape, in[0], scale)};
    };
    const auto result = autodiff::check_gradients(f, {testing::random_tensor({4, 3}, 3, -4, 4, DType::Float64)});
    EXPECT_TRUE(result.passed) << "scale " << scale << ": " << result.report;
  }
}

TEST(ScaledSigmoid, RejectsShapeMismatchByName) {
  Tensor x = Tensor::zeros({2, 3}), y = Tensor::zeros({3, 2});
  try {
    kernels::scaled_sigmoid_forward(x, 1.0, y);
    FAIL() << "expected an exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("sigmoid output y"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace latf
