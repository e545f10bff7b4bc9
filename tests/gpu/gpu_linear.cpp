#include "autodiff/ops.hpp"
#include "kernels/linear.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using kernels::Activation;
using kernels::LinearPath;

struct Case {
  std::int64_t n, in, out;
  Activation act;
};

class GpuLinear : public ::testing::TestWithParam<Case> {};

// CPU vs CUDA (both paths), forward and backward.
TEST_P(GpuLinear, MatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  Tensor x = testing::random_tensor({c.n, c.in}, 1), w = testing::random_tensor({c.out, c.in}, 2),
         b = testing::random_tensor({c.out}, 3), dy = testing::random_tensor({c.n, c.out}, 4);
  Tensor y = Tensor::empty({c.n, c.out});
  kernels::linear_forward(x, w, b, c.act, 0.01f, y);
  Tensor dx = Tensor::zeros(x.shape()), dw = Tensor::zeros(w.shape()), db = Tensor::zeros(b.shape());
  kernels::linear_backward(x, w, y, dy, c.act, 0.01f, dx, dw, db);
  const bool small = c.in <= kernels::kFusedLinearMaxWidth && c.out <= kernels::kFusedLinearMaxWidth;
  for (LinearPath path : {LinearPath::Fused, LinearPath::Cublas}) {
    if (path == LinearPath::Fused && !small) continue;
    Tensor xg = x.to(gpu), wg = w.to(gpu), bg = b.to(gpu), yg = Tensor::empty(y.shape(), gpu);
    kernels::linear_forward(xg, wg, bg, c.act, 0.01f, yg, path);
    EXPECT_LT(testing::max_relative_error(yg, y), 1e-5);
    Tensor dxg = Tensor::zeros(x.shape(), gpu), dwg = Tensor::zeros(w.shape(), gpu), dbg = Tensor::zeros(b.shape(), gpu);
    kernels::linear_backward(xg, wg, yg, dy.to(gpu), c.act, 0.01f, dxg, dwg, dbg);
    EXPECT_LT(testing::max_relative_error(dxg, dx), 1e-4);
    EXPECT_LT(testing::max_relative_error(dwg, dw), 1e-4 * std::max<double>(1, c.n / 100.0));
    EXPECT_LT(testing::max_relative_error(dbg, db), 1e-4 * std::max<double>(1, c.n / 100.0));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuLinear,
                         ::testing::Values(Case{1, 2, 16, Activation::Identity}, Case{513, 16, 16, Activation::LeakyReLU},
                                           Case{1000, 3, 7, Activation::ReLU}, Case{4097, 64, 64, Activation::ReLU},
                                           Case{777, 200, 130, Activation::LeakyReLU}),
                         [](const auto& info) {
                           const Case& c = info.param;
                           return "n" + std::to_string(c.n) + "_in" + std::to_string(c.in) + "_out" + std::to_string(c.out);
                         });

TEST(GpuLinear, FusedPathRejectsWideLayers) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  Tensor x = Tensor::zeros({4, 100}, gpu), w = Tensor::zeros({8, 100}, gpu), b = Tensor::zeros({8}, gpu),
         y = Tensor::zeros({4, 8}, gpu);
  EXPECT_THROW(kernels::linear_forward(x, w, b, Activation::Identity, 0.f, y, LinearPath::Fused), InvalidArgument);
}

}  // namespace
}  // namespace latf
