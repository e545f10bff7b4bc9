#include "kernels/sigmoid.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

TEST(GpuScaledSigmoid, MatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  for (std::int64_t n : {1, 1000, 300001}) {
    Tensor x = testing::random_tensor({n}, 1, -20, 20), dy = testing::random_tensor({n}, 2);
    Tensor y = Tensor::empty(x.shape()), dx = Tensor::zeros(x.shape());
    kernels::scaled_sigmoid_forward(x, -10.0, y);
    kernels::scaled_sigmoid_backward(y, -10.0, dy, dx);
    Tensor yg = Tensor::empty(x.shape(), gpu), dxg = Tensor::zeros(x.shape(), gpu);
    kernels::scaled_sigmoid_forward(x.to(gpu), -10.0, yg);
    kernels::scaled_sigmoid_backward(yg, -10.0, dy.to(gpu), dxg);
    EXPECT_LT(testing::max_relative_error(yg, y), 1e-5);
    EXPECT_LT(testing::max_relative_error(dxg, dx), 1e-5);
  }
}

}  // namespace
}  // namespace latf
