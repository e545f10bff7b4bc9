// CPU vs CUDA for the model-stacked linear layer (both CUDA paths), forward and backward.
#include "autodiff/ops.hpp"
#include "kernels/linear.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using kernels::Activation;
using kernels::LinearPath;

struct Case {
  std::int64_t models, n, in, out;
  Activation act;
};

class GpuStackedLinear : public ::testing::TestWithParam<Case> {};

TEST_P(GpuStackedLinear, MatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  // Models differ (one random tensor over all of them); gradients start non-zero to test accumulation.
  Tensor x = testing::random_tensor({c.models, c.n, c.in}, 1), w = testing::random_tensor({c.models, c.out, c.in}, 2),
         b = testing::random_tensor({c.models, c.out}, 3), dy = testing::random_tensor({c.models, c.n, c.out}, 4);
  Tensor dx0 = testing::random_tensor(x.shape(), 5), dw0 = testing::random_tensor(w.shape(), 6),
         db0 = testing::random_tensor(b.shape(), 7);
  Tensor y = Tensor::empty({c.models, c.n, c.out});
  kernels::linear_forward(x, w, b, c.act, 0.01f, y);
  Tensor dx = dx0.clone(), dw = dw0.clone(), db = db0.clone();
  kernels::linear_backward(x, w, y, dy, c.act, 0.01f, dx, dw, db);
  const bool small = c.in <= kernels::kFusedLinearMaxWidth && c.out <= kernels::kFusedLinearMaxWidth;
  const double sum_tolerance = 1e-4 * std::max<double>(1, c.n / 100.0);
  for (LinearPath path : {LinearPath::Fused, LinearPath::Cublas}) {
    if (path == LinearPath::Fused && !small) continue;
    const char* where = path == LinearPath::Fused ? "fused" : "cublas";
    Tensor xg = x.to(gpu), wg = w.to(gpu), bg = b.to(gpu), yg = Tensor::empty(y.shape(), gpu);
    kernels::linear_forward(xg, wg, bg, c.act, 0.01f, yg, path);
    EXPECT_LT(testing::max_relative_error(yg, y), 1e-5) << where;
    Tensor dxg = dx0.to(gpu), dwg = dw0.to(gpu), dbg = db0.to(gpu);
    kernels::linear_backward(xg, wg, yg, dy.to(gpu), c.act, 0.01f, dxg, dwg, dbg);
    EXPECT_LT(testing::max_relative_error(dxg, dx), 1e-4) << where;
    EXPECT_LT(testing::max_relative_error(dwg, dw), sum_tolerance) << where;
    EXPECT_LT(testing::max_relative_error(dbg, db), sum_tolerance) << where;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuStackedLinear,
                         ::testing::Values(Case{1, 513, 16, 16, Activation::LeakyReLU},
                                           Case{3, 1, 2, 16, Activation::Identity},
                                           Case{3, 1000, 3, 7, Activation::ReLU},
                                           Case{4, 4097, 64, 64, Activation::LeakyReLU},
                                           Case{3, 777, 200, 130, Activation::ReLU},
                                           Case{5, 300, 65, 9, Activation::Identity}),
                         [](const auto& info) {
                           const Case& c = info.param;
                           return "m" + std::to_string(c.models) + "_n" + std::to_string(c.n) + "_in" +
                                  std::to_string(c.in) + "_out" + std::to_string(c.out);
                         });

TEST(GpuStackedLinear, TapeOpMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  Tensor x = testing::random_tensor({3, 50, 4}, 11), w = testing::random_tensor({3, 6, 4}, 12),
         b = testing::random_tensor({3, 6}, 13), seed = testing::random_tensor({3, 50, 6}, 14);
  std::vector<Tensor> cpu_grads, gpu_grads;
  Tensor cpu_y, gpu_y;
  for (const Device& device : {Device::cpu(), gpu}) {
    autodiff::Tape tape;
    Tensor dx = Tensor::zeros(x.shape(), device), dw = Tensor::zeros(w.shape(), device),
           db = Tensor::zeros(b.shape(), device);
    auto out = autodiff::linear(tape, tape.parameter(x.to(device), dx), tape.parameter(w.to(device), dw),
                                tape.parameter(b.to(device), db), Activation::LeakyReLU, 0.01f);
    ASSERT_EQ(tape.value(out).shape(), (Shape{3, 50, 6}));
    tape.backward(out, seed.to(device));
    (device.is_cpu() ? cpu_y : gpu_y) = tape.value(out);
    (device.is_cpu() ? cpu_grads : gpu_grads) = {dx, dw, db};
  }
  EXPECT_LT(testing::max_relative_error(gpu_y, cpu_y), 1e-5);
  for (int i = 0; i < 3; ++i) EXPECT_LT(testing::max_relative_error(gpu_grads[i], cpu_grads[i]), 1e-4) << i;
}

}  // namespace
}  // namespace latf
