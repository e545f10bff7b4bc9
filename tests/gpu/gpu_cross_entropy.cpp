#include <cmath>
#include <string>

#include "autodiff/ops.hpp"
#include "kernels/cross_entropy.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

struct Case {
  std::int64_t n, k;
  bool one_hot, weighted;
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << "N=" << c.n << " K=" << c.k << (c.one_hot ? " one-hot" : " soft") << (c.weighted ? " weighted" : "");
}

Tensor make_targets(const Case& c) {
  if (!c.one_hot) return testing::random_tensor({c.n, c.k}, 2, 0.0, 1.0);
  std::vector<float> y(c.n * c.k, 0.f);
  for (std::int64_t i = 0; i < c.n; ++i) y[i * c.k + (5 * i + 1) % c.k] = 1.f;
  return Tensor::from_vector(y, {c.n, c.k});
}

class GpuCrossEntropy : public ::testing::TestWithParam<Case> {};

TEST_P(GpuCrossEntropy, LogSoftmaxMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  Tensor x = testing::random_tensor({c.n, c.k}, 1, -6, 6), dout = testing::random_tensor({c.n, c.k}, 4);
  Tensor out = Tensor::empty(x.shape()), dx = Tensor::full(x.shape(), 0.5);
  kernels::log_softmax_forward(x, out);
  kernels::log_softmax_backward(out, dout, dx);
  Tensor out_g = Tensor::empty(x.shape(), gpu), dx_g = Tensor::full(x.shape(), 0.5, gpu);
  kernels::log_softmax_forward(x.to(gpu), out_g);
  kernels::log_softmax_backward(out_g, dout.to(gpu), dx_g);
  EXPECT_LT(testing::max_relative_error(out_g, out), 1e-5);
  EXPECT_LT(testing::max_relative_error(dx_g, dx), 1e-5);
}

TEST_P(GpuCrossEntropy, WeightedCrossEntropyMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  Tensor x = testing::random_tensor({c.n, c.k}, 1, -6, 6), y = make_targets(c);
  Tensor w = c.weighted ? testing::random_tensor({c.n}, 3, 0.0, 2.0) : Tensor();
  Tensor loss = Tensor::empty({1}), dx = Tensor::full(x.shape(), -0.25);
  kernels::weighted_cross_entropy_forward(x, y, w, loss);
  kernels::weighted_cross_entropy_backward(x, y, w, Tensor::full({1}, 1.3), dx);

  Tensor xg = x.to(gpu), yg = y.to(gpu), wg = c.weighted ? w.to(gpu) : Tensor();
  Tensor loss_g = Tensor::full({1}, 123.0, gpu), dx_g = Tensor::full(x.shape(), -0.25, gpu);
  kernels::weighted_cross_entropy_forward(xg, yg, wg, loss_g);
  kernels::weighted_cross_entropy_backward(xg, yg, wg, Tensor::full({1}, 1.3, gpu), dx_g);
  const double cpu = loss.item(), cuda = loss_g.item();
  EXPECT_NEAR(cuda, cpu, 1e-5 * std::max(1.0, std::abs(cpu)));
  EXPECT_LT(testing::max_relative_error(dx_g, dx), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Cases, GpuCrossEntropy,
                         ::testing::Values(Case{1, 1, true, false}, Case{1, 7, false, true}, Case{255, 1, true, true},
                                           Case{1000, 3, true, true}, Case{4097, 33, false, true},
                                           Case{100003, 5, true, false}, Case{300000, 2, false, true}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           const Case& c = info.param;
                           return concat("N", c.n, "_K", c.k, c.one_hot ? "_OneHot" : "_Soft",
                                         c.weighted ? "_Weighted" : "_Unweighted");
                         });

TEST(GpuCrossEntropy, HugeLogitsMatchCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  Tensor x = Tensor::from_vector(std::vector<float>{1e4f, -1e4f, 0.f, 1e4f - 3.f, -3e4f, -3e4f + 1.f}, {2, 3});
  Tensor y = Tensor::from_vector(std::vector<float>{0.f, 1.f, 0.f, 0.2f, 0.3f, 0.5f}, {2, 3});
  Tensor loss = Tensor::empty({1}), loss_g = Tensor::empty({1}, gpu);
  kernels::weighted_cross_entropy_forward(x, y, Tensor(), loss);
  kernels::weighted_cross_entropy_forward(x.to(gpu), y.to(gpu), Tensor(), loss_g);
  ASSERT_TRUE(std::isfinite(loss_g.item()));
  EXPECT_NEAR(loss_g.item(), loss.item(), 1e-6 * std::abs(loss.item()));
  Tensor out_g = Tensor::empty({2, 3}, gpu), out = Tensor::empty({2, 3});
  kernels::log_softmax_forward(x, out);
  kernels::log_softmax_forward(x.to(gpu), out_g);
  EXPECT_LT(testing::max_relative_error(out_g, out), 1e-6);
}

TEST(GpuCrossEntropy, TapeBackwardOnDevice) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  const Case c{64, 4, true, true};
  Tensor x = testing::random_tensor({c.n, c.k}, 9, -2, 2), y = make_targets(c), w = testing::random_tensor({c.n}, 8, 0, 1);
  Tensor grads[2];
  for (int run = 0; run < 2; ++run) {
    const Device device = run == 0 ? Device::cpu() : gpu;
    autodiff::Tape tape;
    autodiff::Var logits = tape.variable(x.to(device));
    autodiff::Var loss = autodiff::weighted_cross_entropy(tape, autodiff::log_softmax(tape, logits),
                                                          tape.constant(y.to(device)), tape.constant(w.to(device)));
    tape.backward(loss);
    grads[run] = tape.grad(logits).to(Device::cpu());
  }
  EXPECT_LT(testing::max_relative_error(grads[1], grads[0]), 1e-5);
}

}  // namespace
}  // namespace latf
