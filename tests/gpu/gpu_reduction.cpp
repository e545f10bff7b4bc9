#include <cmath>
#include <string>

#include "autodiff/ops.hpp"
#include "kernels/reduction.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

struct Case {
  std::int64_t n;
  bool weighted;
  double scale;
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << "N=" << c.n << (c.weighted ? " weighted" : "") << " scale=" << c.scale;
}

class GpuWeightedSum : public ::testing::TestWithParam<Case> {};

TEST_P(GpuWeightedSum, MatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  Tensor x = testing::random_tensor({c.n}, 1, -1, 2), w = c.weighted ? testing::random_tensor({c.n}, 2, 0, 1) : Tensor();
  Tensor out = Tensor::empty({1}), dx = Tensor::full({c.n}, 0.5), dw = c.weighted ? Tensor::full({c.n}, 0.25) : Tensor();
  kernels::weighted_sum_forward(x, w, c.scale, out);
  kernels::weighted_sum_backward(x, w, c.scale, Tensor::full({1}, -1.5), dx, dw);

  Tensor xg = x.to(gpu), wg = c.weighted ? w.to(gpu) : Tensor();
  Tensor out_g = Tensor::full({1}, 99.0, gpu), dx_g = Tensor::full({c.n}, 0.5, gpu),
         dw_g = c.weighted ? Tensor::full({c.n}, 0.25, gpu) : Tensor();
  kernels::weighted_sum_forward(xg, wg, c.scale, out_g);
  kernels::weighted_sum_backward(xg, wg, c.scale, Tensor::full({1}, -1.5, gpu), dx_g, dw_g);
  const double cpu = out.item(), cuda = out_g.item();
  // Both sides sum in double and round once to float: they agree to an ulp or two.
  EXPECT_NEAR(cuda, cpu, 3e-7 * std::max(1e-3, std::abs(cpu)));
  EXPECT_LT(testing::max_relative_error(dx_g, dx), 1e-6);
  if (c.weighted) {
    EXPECT_LT(testing::max_relative_error(dw_g, dw), 1e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, GpuWeightedSum,
                         ::testing::Values(Case{1, true, 1.0}, Case{7, false, 2.0}, Case{1000, true, 1e-3},
                                           Case{1 << 20, false, 1.0}, Case{(1 << 20) + 3, true, 1.0 / (1 << 20)},
                                           Case{3000017, true, -0.5}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return concat("N", info.param.n, info.param.weighted ? "_Weighted" : "_Unweighted");
                         });

TEST(GpuWeightedSum, EmptyInputSumsToZero) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  Tensor out = Tensor::full({1}, 5.0, gpu);
  kernels::weighted_sum_forward(Tensor::zeros({0}, gpu), Tensor(), 1.0, out);
  EXPECT_EQ(out.item(), 0.f);
}

TEST(GpuWeightedSum, TapeWeightedMeanOnDevice) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  Tensor x = testing::random_tensor({33, 3}, 5), w = testing::random_tensor({33, 3}, 6, 0, 1);
  Tensor values[2], gx[2], gw[2];
  for (int run = 0; run < 2; ++run) {
    const Device device = run == 0 ? Device::cpu() : gpu;
    autodiff::Tape tape;
    autodiff::Var xv = tape.variable(x.to(device)), wv = tape.variable(w.to(device));
    autodiff::Var mean = autodiff::weighted_mean(tape, xv, wv);
    tape.backward(mean);
    values[run] = tape.value(mean).to(Device::cpu());
    gx[run] = tape.grad(xv).to(Device::cpu());
    gw[run] = tape.grad(wv).to(Device::cpu());
  }
  EXPECT_NEAR(values[1].item(), values[0].item(), 1e-6);
  EXPECT_LT(testing::max_relative_error(gx[1], gx[0]), 1e-6);
  EXPECT_LT(testing::max_relative_error(gw[1], gw[0]), 1e-6);
}

}  // namespace
}  // namespace latf
