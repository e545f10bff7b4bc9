// CUDA against CPU for the model-stacked Gaussian family: one launch covers every model, and each
// model's reductions (a per-model scalar log-variance, the VampPrior parameters) must stay inside
// that model. The CPU runs in float64 as the reference; gradient buffers start from a non-zero
// pattern on both sides, so a kernel that overwrites instead of accumulating fails.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/gaussian.hpp"
#include "tests/stacked_cases.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

constexpr double kElementTolerance = 1e-4;
constexpr double kReducedTolerance = 1e-3;  // sums over rows, in another order than the CPU's

Tensor stacked_log_variance(bool scalar, std::int64_t models, std::int64_t rows, std::int64_t d, std::uint64_t seed) {
  if (scalar) return testing::random_tensor({models, 1}, seed, -0.8, 0.8);
  return testing::random_tensor({models, rows, d}, seed, -0.7, 0.7);
}

using Case = testing::StackedGaussianCase;
const auto case_name = testing::stacked_gaussian_case_name;
const auto place = testing::place_for_comparison;
const auto dtype_on = testing::comparison_dtype;
const auto start = testing::prefilled_gradient;

class GpuStackedGaussian : public ::testing::TestWithParam<Case> {};

TEST_P(GpuStackedGaussian, ReparameterizeMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Tensor mean = testing::random_tensor({c.models, c.n, c.d}, 1, -1.5, 1.5);
  const Tensor lv = stacked_log_variance(c.scalar_lv, c.models, c.n, c.d, 2);
  const Tensor noise = testing::random_tensor({c.models, c.n, c.d}, 3, -2, 2);
  const Tensor du = testing::random_tensor({c.models, c.n, c.d}, 4);
  std::vector<Tensor> u(2), dmean(2), dlv(2);
  const Device devices[2] = {Device::cpu(), Device::cuda(0)};
  for (int s = 0; s < 2; ++s) {
    const Device& dev = devices[s];
    u[s] = Tensor::empty(mean.shape(), dev, dtype_on(dev));
    kernels::reparameterize_forward(place(mean, dev), place(lv, dev), place(noise, dev), u[s]);
    dmean[s] = start(mean.shape(), 5, dev, dtype_on(dev));
    dlv[s] = start(lv.shape(), 6, dev, dtype_on(dev));
    kernels::reparameterize_backward(place(lv, dev), place(noise, dev), place(du, dev), dmean[s], dlv[s]);
  }
  EXPECT_LT(testing::max_relative_error(u[1], u[0]), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(dmean[1], dmean[0]), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(dlv[1], dlv[0]), c.scalar_lv ? kReducedTolerance : kElementTolerance);
}

TEST_P(GpuStackedGaussian, GaussianLogDensityMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Tensor u = testing::random_tensor({c.models, c.n, c.d}, 10, -1.5, 1.5);
  const Tensor mean = testing::random_tensor({c.models, c.n, c.d}, 11, -1.5, 1.5);
  const Tensor lv = stacked_log_variance(c.scalar_lv, c.models, c.n, c.d, 12);
  const Tensor dout = testing::random_tensor({c.models, c.n}, 13);
  std::vector<Tensor> out(2), du(2), dmean(2), dlv(2);
  const Device devices[2] = {Device::cpu(), Device::cuda(0)};
  for (int s = 0; s < 2; ++s) {
    const Device& dev = devices[s];
    out[s] = Tensor::empty({c.models, c.n}, dev, dtype_on(dev));
    kernels::gaussian_log_density_forward(place(u, dev), place(mean, dev), place(lv, dev), out[s]);
    du[s] = start(u.shape(), 14, dev, dtype_on(dev));
    dmean[s] = start(u.shape(), 15, dev, dtype_on(dev));
    dlv[s] = start(lv.shape(), 16, dev, dtype_on(dev));
    kernels::gaussian_log_density_backward(place(u, dev), place(mean, dev), place(lv, dev), place(dout, dev), du[s],
                                           dmean[s], dlv[s]);
  }
  EXPECT_LT(testing::max_relative_error(out[1], out[0]), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(du[1], du[0]), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(dmean[1], dmean[0]), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(dlv[1], dlv[0]), c.scalar_lv ? kReducedTolerance : kElementTolerance);
}

TEST_P(GpuStackedGaussian, VampLogDensityMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Tensor u = testing::random_tensor({c.models, c.n, c.d}, 20, -1.5, 1.5);
  const Tensor means = testing::random_tensor({c.models, c.k, c.d}, 21, -1.5, 1.5);
  const Tensor lv = stacked_log_variance(c.scalar_lv, c.models, c.k, c.d, 22);
  const Tensor logits = testing::random_tensor({c.models, c.k}, 23, -2, 2);
  const Tensor dout = testing::random_tensor({c.models, c.n}, 24);
  std::vector<Tensor> out(2), du(2), dmeans(2), dlv(2), dlogits(2);
  const Device devices[2] = {Device::cpu(), Device::cuda(0)};
  for (int s = 0; s < 2; ++s) {
    const Device& dev = devices[s];
    out[s] = Tensor::empty({c.models, c.n}, dev, dtype_on(dev));
    kernels::vamp_log_density_forward(place(u, dev), place(means, dev), place(lv, dev), place(logits, dev), out[s]);
    du[s] = start(u.shape(), 25, dev, dtype_on(dev));
    dmeans[s] = start(means.shape(), 26, dev, dtype_on(dev));
    dlv[s] = start(lv.shape(), 27, dev, dtype_on(dev));
    dlogits[s] = start(logits.shape(), 28, dev, dtype_on(dev));
    kernels::vamp_log_density_backward(place(u, dev), place(means, dev), place(lv, dev), place(logits, dev),
                                       place(dout, dev), du[s], dmeans[s], dlv[s], dlogits[s]);
  }
  EXPECT_LT(testing::max_relative_error(out[1], out[0]), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(du[1], du[0]), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(dmeans[1], dmeans[0]), kReducedTolerance);
  EXPECT_LT(testing::max_relative_error(dlv[1], dlv[0]), kReducedTolerance);
  EXPECT_LT(testing::max_relative_error(dlogits[1], dlogits[0]), kReducedTolerance);
}

// K·d large enough that the backward's shared-memory staging is off (> 10240 floats).
INSTANTIATE_TEST_SUITE_P(Shapes, GpuStackedGaussian,
                         ::testing::Values(Case{1, 1, 1, 1, true}, Case{3, 1, 3, 2, false}, Case{3, 517, 5, 7, true},
                                           Case{3, 517, 3, 4, false}, Case{2, 4096, 16, 50, true},
                                           Case{4, 20000, 2, 30, false}, Case{2, 300, 16, 700, false}),
                         case_name);

// A dead component (logit −1e30) gets exactly zero gradient on the device too.
TEST(GpuStackedGaussianDeadComponent, DeadComponentGetsExactlyZeroGradient) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  const std::int64_t models = 2, n = 3000, d = 3, k = 6, dead = 4;
  std::vector<float> logits = testing::random_tensor({models, k}, 30, -1, 1).to_vector();
  logits[k + dead] = -1e30f;
  const Tensor u = testing::random_tensor({models, n, d}, 31, -2, 2, DType::Float32, gpu);
  const Tensor means = testing::random_tensor({models, k, d}, 32, -2, 2, DType::Float32, gpu);
  const Tensor lv = testing::random_tensor({models, k, d}, 33, -0.5, 0.5, DType::Float32, gpu);
  const Tensor dout = testing::random_tensor({models, n}, 34, -1, 1, DType::Float32, gpu);
  const Tensor logit_tensor = Tensor::from_vector(logits, {models, k}, gpu);
  Tensor out = Tensor::empty({models, n}, gpu);
  kernels::vamp_log_density_forward(u, means, lv, logit_tensor, out);
  Tensor du = Tensor::zeros(u.shape(), gpu), dmeans = Tensor::zeros(means.shape(), gpu),
         dlv = Tensor::zeros(lv.shape(), gpu), dlogits = Tensor::zeros({models, k}, gpu);
  kernels::vamp_log_density_backward(u, means, lv, logit_tensor, dout, du, dmeans, dlv, dlogits);
  const std::vector<float> dl = dlogits.to_vector(), dm = dmeans.to_vector(), dv = dlv.to_vector();
  EXPECT_EQ(dl[k + dead], 0.f);
  for (std::int64_t j = 0; j < d; ++j) {
    EXPECT_EQ(dm[(k + dead) * d + j], 0.f);
    EXPECT_EQ(dv[(k + dead) * d + j], 0.f);
  }
  for (float v : out.to_vector()) EXPECT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace latf
