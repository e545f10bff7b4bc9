// CUDA against CPU for the model-stacked loss-side ops: log_softmax, the per-model
// weighted_cross_entropy (a CUB segment per model), the per-model weighted sum behind
// model_weighted_mean, and the tilted density with one tau per model read on the device. The CPU
// runs in float64 as the reference; gradient buffers start from a non-zero pattern on both sides.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cross_entropy.hpp"
#include "kernels/reduction.hpp"
#include "kernels/tilted.hpp"
#include "tests/stacked_cases.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

constexpr double kElementTolerance = 1e-4;
constexpr double kReducedTolerance = 1e-5;  // double accumulation on both sides, one float rounding

using Case = testing::StackedLossCase;
const auto case_name = testing::stacked_loss_case_name;
const auto place = testing::place_for_comparison;
const auto dtype_on = testing::comparison_dtype;
const auto start = testing::prefilled_gradient;

class GpuStackedLosses : public ::testing::TestWithParam<Case> {};

TEST_P(GpuStackedLosses, LogSoftmaxMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Tensor logits = testing::random_tensor({c.models, c.n, c.k}, 1, -5, 5);
  const Tensor dout = testing::random_tensor({c.models, c.n, c.k}, 2);
  std::vector<Tensor> out(2), dlogits(2);
  const Device devices[2] = {Device::cpu(), Device::cuda(0)};
  for (int s = 0; s < 2; ++s) {
    const Device& dev = devices[s];
    out[s] = Tensor::empty(logits.shape(), dev, dtype_on(dev));
    kernels::log_softmax_forward(place(logits, dev), out[s]);
    dlogits[s] = start(logits.shape(), 3, dev, dtype_on(dev));
    kernels::log_softmax_backward(out[s], place(dout, dev), dlogits[s]);
  }
  EXPECT_LT(testing::max_relative_error(out[1], out[0]), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(dlogits[1], dlogits[0]), kElementTolerance);
}

TEST_P(GpuStackedLosses, WeightedCrossEntropyMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Tensor logits = testing::random_tensor({c.models, c.n, c.k}, 10, -4, 4);
  const Tensor targets = testing::random_tensor({c.models, c.n, c.k}, 11, 0, 1);
  const Tensor weights = c.weighted ? testing::random_tensor({c.models, c.n}, 12, 0.1, 2) : Tensor();
  const Tensor dloss = testing::random_tensor({c.models}, 13, 0.5, 2);
  std::vector<Tensor> loss(2), dlogits(2);
  const Device devices[2] = {Device::cpu(), Device::cuda(0)};
  for (int s = 0; s < 2; ++s) {
    const Device& dev = devices[s];
    loss[s] = Tensor::empty({c.models}, dev, dtype_on(dev));
    kernels::weighted_cross_entropy_forward(place(logits, dev), place(targets, dev), place(weights, dev), loss[s]);
    dlogits[s] = start(logits.shape(), 14, dev, dtype_on(dev));
    kernels::weighted_cross_entropy_backward(place(logits, dev), place(targets, dev), place(weights, dev),
                                             place(dloss, dev), dlogits[s]);
  }
  EXPECT_LT(testing::max_relative_error(loss[1], loss[0]), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(dlogits[1], dlogits[0]), kElementTolerance);
}

TEST_P(GpuStackedLosses, PerModelWeightedSumMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Tensor x = testing::random_tensor({c.models, c.n, c.k}, 20, -3, 3);
  const Tensor weights = c.weighted ? testing::random_tensor({c.models, c.n, c.k}, 21, 0, 2) : Tensor();
  const Tensor dout = testing::random_tensor({c.models}, 22, 0.5, 2);
  const double scale = 1.0 / double(c.n * c.k);
  std::vector<Tensor> out(2), dx(2), dw(2);
  const Device devices[2] = {Device::cpu(), Device::cuda(0)};
  for (int s = 0; s < 2; ++s) {
    const Device& dev = devices[s];
    out[s] = Tensor::empty({c.models}, dev, dtype_on(dev));
    kernels::weighted_sum_forward(place(x, dev), place(weights, dev), scale, out[s]);
    dx[s] = start(x.shape(), 23, dev, dtype_on(dev));
    if (c.weighted) dw[s] = start(x.shape(), 24, dev, dtype_on(dev));
    kernels::weighted_sum_backward(place(x, dev), place(weights, dev), scale, place(dout, dev), dx[s], dw[s]);
  }
  EXPECT_LT(testing::max_relative_error(out[1], out[0]), kReducedTolerance);
  EXPECT_LT(testing::max_relative_error(dx[1], dx[0]), kElementTolerance);
  if (c.weighted) {
    EXPECT_LT(testing::max_relative_error(dw[1], dw[0]), kElementTolerance);
  }
}

TEST_P(GpuStackedLosses, TiltedDensityWithPerModelTausMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Tensor z = testing::random_tensor({c.models, c.n, c.k}, 30, -2, 2);
  const Tensor b = testing::random_tensor({c.models, c.n}, 31, 0.3, 2);
  const Tensor log_norm = c.weighted ? testing::random_tensor({c.models, c.n}, 32, -1, 1) : Tensor();
  const Tensor taus = testing::random_tensor({c.models}, 33, 0, 3);
  const Tensor dout = testing::random_tensor({c.models, c.n}, 34);
  std::vector<Tensor> out(2), dz(2);
  const Device devices[2] = {Device::cpu(), Device::cuda(0)};
  for (int s = 0; s < 2; ++s) {
    const Device& dev = devices[s];
    const Tensor taus_here = taus.to(dev);  // float32 on either device
    out[s] = Tensor::empty({c.models, c.n}, dev, dtype_on(dev));
    kernels::tilted_log_density_forward(place(z, dev), place(b, dev), place(log_norm, dev), taus_here, out[s]);
    dz[s] = start(z.shape(), 35, dev, dtype_on(dev));
    kernels::tilted_log_density_backward(place(z, dev), place(b, dev), taus_here, place(dout, dev), dz[s]);
  }
  EXPECT_LT(testing::max_relative_error(out[1], out[0]), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(dz[1], dz[0]), kElementTolerance);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuStackedLosses,
                         ::testing::Values(Case{1, 1, 1, false}, Case{1, 300, 3, true}, Case{3, 1, 2, true},
                                           Case{3, 517, 5, false}, Case{3, 517, 5, true}, Case{5, 20000, 3, true},
                                           Case{2, 100000, 2, false}),
                         case_name);

// A dead class column (logit −1e30, target 0) gets exactly zero gradient on the device too, and the
// stacked losses stay finite.
TEST(GpuStackedLossesDeadClass, DeadColumnGetsExactlyZeroGradient) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  const std::int64_t models = 3, n = 2000, k = 4, dead = 1;
  std::vector<float> x = testing::random_tensor({models, n, k}, 40, -3, 3).to_vector();
  std::vector<float> y = testing::random_tensor({models, n, k}, 41, 0, 1).to_vector();
  for (std::int64_t r = 0; r < models * n; ++r) {
    x[r * k + dead] = -1e30f;
    y[r * k + dead] = 0.f;
  }
  const Tensor logits = Tensor::from_vector(x, {models, n, k}, gpu), targets = Tensor::from_vector(y, {models, n, k}, gpu);
  Tensor loss = Tensor::empty({models}, gpu), d = Tensor::zeros({models, n, k}, gpu);
  kernels::weighted_cross_entropy_forward(logits, targets, Tensor(), loss);
  kernels::weighted_cross_entropy_backward(logits, targets, Tensor(), Tensor::full({models}, 1.0, gpu), d);
  for (float v : loss.to_vector()) EXPECT_TRUE(std::isfinite(v));
  const std::vector<float> g = d.to_vector();
  for (std::int64_t r = 0; r < models * n; ++r) ASSERT_EQ(g[r * k + dead], 0.f) << "row " << r;
}

}  // namespace
}  // namespace latf
