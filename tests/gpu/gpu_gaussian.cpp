#include <cmath>
#include <string>

#include "kernels/gaussian.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

// The CPU runs in float64 as the reference; the CUDA float32 results must agree to float
// accuracy. Gradient tensors start from a non-zero value on both sides, so a kernel that
// overwrites instead of accumulating fails.

Tensor log_variance_for(bool scalar, std::int64_t rows, std::int64_t d, std::uint64_t seed) {
  if (scalar) return Tensor::full({1}, -0.2);
  return testing::random_tensor({rows, d}, seed, -0.7, 0.7);
}

// Gradient buffers on one device, pre-filled with a fixed pattern.
Tensor start_gradient(const Shape& shape, std::uint64_t seed, const Device& device, DType dtype) {
  return testing::random_tensor(shape, seed, -0.5, 0.5).to(dtype).to(device);
}

struct Case {
  std::int64_t n, d, k;
  bool scalar_lv;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return "N" + std::to_string(info.param.n) + "_d" + std::to_string(info.param.d) + "_K" +
         std::to_string(info.param.k) + (info.param.scalar_lv ? "_scalarLV" : "_componentLV");
}

std::string row_case_name(const ::testing::TestParamInfo<Case>& info) {
  return "N" + std::to_string(info.param.n) + "_d" + std::to_string(info.param.d) +
         (info.param.scalar_lv ? "_scalarLV" : "_elementLV");
}

// Reductions over rows (a [1] log-variance, the VampPrior parameters) sum thousands of float
// terms in a different order than the CPU.
constexpr double kElementTolerance = 1e-4;
constexpr double kReducedTolerance = 1e-3;

class GpuGaussianRows : public ::testing::TestWithParam<Case> {};

TEST_P(GpuGaussianRows, ReparameterizeMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  Tensor mean = testing::random_tensor({c.n, c.d}, 1, -1.5, 1.5);
  Tensor lv = log_variance_for(c.scalar_lv, c.n, c.d, 2);
  Tensor noise = testing::random_tensor({c.n, c.d}, 3, -2, 2);
  Tensor du = testing::random_tensor({c.n, c.d}, 4);
  const auto f64 = DType::Float64;
  Tensor u = Tensor::empty(mean.shape(), Device::cpu(), f64);
  kernels::reparameterize_forward(testing::as_double(mean), testing::as_double(lv), testing::as_double(noise), u);
  Tensor dmean = start_gradient(mean.shape(), 5, Device::cpu(), f64);
  Tensor dlv = start_gradient(lv.shape(), 6, Device::cpu(), f64);
  kernels::reparameterize_backward(testing::as_double(lv), testing::as_double(noise), testing::as_double(du), dmean,
                                   dlv);

  Tensor ug = Tensor::empty(mean.shape(), gpu);
  kernels::reparameterize_forward(mean.to(gpu), lv.to(gpu), noise.to(gpu), ug);
  EXPECT_LT(testing::max_relative_error(ug, u), kElementTolerance);
  Tensor dmeang = start_gradient(mean.shape(), 5, gpu, DType::Float32);
  Tensor dlvg = start_gradient(lv.shape(), 6, gpu, DType::Float32);
  kernels::reparameterize_backward(lv.to(gpu), noise.to(gpu), du.to(gpu), dmeang, dlvg);
  EXPECT_LT(testing::max_relative_error(dmeang, dmean), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(dlvg, dlv), c.scalar_lv ? kReducedTolerance : kElementTolerance);
}

TEST_P(GpuGaussianRows, GaussianLogDensityMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  Tensor u = testing::random_tensor({c.n, c.d}, 10, -1.5, 1.5);
  Tensor mean = testing::random_tensor({c.n, c.d}, 11, -1.5, 1.5);
  Tensor lv = log_variance_for(c.scalar_lv, c.n, c.d, 12);
  Tensor dout = testing::random_tensor({c.n}, 13);
  const auto f64 = DType::Float64;
  Tensor out = Tensor::empty({c.n}, Device::cpu(), f64);
  kernels::gaussian_log_density_forward(testing::as_double(u), testing::as_double(mean), testing::as_double(lv), out);
  Tensor du = start_gradient(u.shape(), 14, Device::cpu(), f64), dmean = start_gradient(u.shape(), 15, Device::cpu(), f64),
         dlv = start_gradient(lv.shape(), 16, Device::cpu(), f64);
  kernels::gaussian_log_density_backward(testing::as_double(u), testing::as_double(mean), testing::as_double(lv),
                                         testing::as_double(dout), du, dmean, dlv);

  Tensor outg = Tensor::empty({c.n}, gpu);
  kernels::gaussian_log_density_forward(u.to(gpu), mean.to(gpu), lv.to(gpu), outg);
  EXPECT_LT(testing::max_relative_error(outg, out), kElementTolerance);
  Tensor dug = start_gradient(u.shape(), 14, gpu, DType::Float32), dmeang = start_gradient(u.shape(), 15, gpu, DType::Float32),
         dlvg = start_gradient(lv.shape(), 16, gpu, DType::Float32);
  kernels::gaussian_log_density_backward(u.to(gpu), mean.to(gpu), lv.to(gpu), dout.to(gpu), dug, dmeang, dlvg);
  EXPECT_LT(testing::max_relative_error(dug, du), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(dmeang, dmean), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(dlvg, dlv), c.scalar_lv ? kReducedTolerance : kElementTolerance);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuGaussianRows,
                         ::testing::Values(Case{1, 1, 0, true}, Case{1, 5, 0, false}, Case{517, 5, 0, true},
                                           Case{517, 3, 0, false}, Case{4096, 16, 0, true},
                                           Case{4096, 16, 0, false}, Case{100000, 2, 0, true}),
                         row_case_name);

class GpuVamp : public ::testing::TestWithParam<Case> {};

struct VampGradients {
  Tensor du, dmeans, dlv, dlogits;
};

VampGradients start_vamp_gradients(const Case& c, const Shape& lv_shape, const Device& device, DType dtype) {
  return {start_gradient({c.n, c.d}, 30, device, dtype), start_gradient({c.k, c.d}, 31, device, dtype),
          start_gradient(lv_shape, 32, device, dtype), start_gradient({c.k}, 33, device, dtype)};
}

// Runs forward and backward on `device`; float64 on the CPU, float32 on CUDA.
void run_vamp(const Tensor& u, const Tensor& means, const Tensor& lv, const Tensor& logits, const Tensor& dout,
              const Case& c, const Device& device, Tensor& out, VampGradients& g) {
  const DType dtype = device.is_cpu() ? DType::Float64 : DType::Float32;
  auto place = [&](const Tensor& t) { return t.to(dtype).to(device); };
  const Tensor pu = place(u), pmeans = place(means), plv = place(lv), plogits = place(logits);
  out = Tensor::empty({c.n}, device, dtype);
  kernels::vamp_log_density_forward(pu, pmeans, plv, plogits, out);
  g = start_vamp_gradients(c, lv.shape(), device, dtype);
  kernels::vamp_log_density_backward(pu, pmeans, plv, plogits, place(dout), g.du, g.dmeans, g.dlv, g.dlogits);
}

TEST_P(GpuVamp, ForwardAndEveryGradientMatchCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  Tensor u = testing::random_tensor({c.n, c.d}, 20, -1.5, 1.5);
  Tensor means = testing::random_tensor({c.k, c.d}, 21, -1.5, 1.5);
  Tensor lv = log_variance_for(c.scalar_lv, c.k, c.d, 22);
  Tensor logits = testing::random_tensor({c.k}, 23, -2, 2);
  Tensor dout = testing::random_tensor({c.n}, 24);
  Tensor out, outg;
  VampGradients g, gg;
  run_vamp(u, means, lv, logits, dout, c, Device::cpu(), out, g);
  run_vamp(u, means, lv, logits, dout, c, Device::cuda(0), outg, gg);
  EXPECT_LT(testing::max_relative_error(outg, out), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(gg.du, g.du), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(gg.dmeans, g.dmeans), kReducedTolerance);
  EXPECT_LT(testing::max_relative_error(gg.dlv, g.dlv), kReducedTolerance);
  EXPECT_LT(testing::max_relative_error(gg.dlogits, g.dlogits), kReducedTolerance);
}

// K·d ≥ 400·16 puts the partials past the shared-memory budget: those cases take the direct
// global-atomic path; the others stage per-block partials.
INSTANTIATE_TEST_SUITE_P(Shapes, GpuVamp,
                         ::testing::Values(Case{1, 2, 1, true}, Case{1, 16, 100, false}, Case{517, 5, 1, false},
                                           Case{517, 5, 3, true}, Case{517, 3, 3, false}, Case{517, 16, 100, true},
                                           Case{4096, 2, 1, true}, Case{4096, 5, 3, false},
                                           Case{4096, 16, 100, false}, Case{4096, 16, 100, true},
                                           Case{300, 16, 400, false}, Case{300, 16, 700, true}),
                         case_name);

TEST(GpuVampEdge, FarAwayComponentsAndPartialGradientsMatchCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c{517, 4, 3, false};
  Tensor u = testing::random_tensor({c.n, c.d}, 40, 48, 52);  // ‖u − mean‖ ≈ 100
  Tensor means = testing::random_tensor({c.k, c.d}, 41, -1, 1);
  Tensor lv = log_variance_for(false, c.k, c.d, 42);
  Tensor logits = testing::random_tensor({c.k}, 43);
  Tensor dout = testing::random_tensor({c.n}, 44);
  Tensor out, outg;
  VampGradients g, gg;
  run_vamp(u, means, lv, logits, dout, c, Device::cpu(), out, g);
  run_vamp(u, means, lv, logits, dout, c, Device::cuda(0), outg, gg);
  for (double v : outg.to(Device::cpu()).to_double_vector()) ASSERT_TRUE(std::isfinite(v)) << v;
  EXPECT_LT(testing::max_relative_error(outg, out), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(gg.du, g.du), kElementTolerance);
  EXPECT_LT(testing::max_relative_error(gg.dmeans, g.dmeans), kReducedTolerance);
  EXPECT_LT(testing::max_relative_error(gg.dlv, g.dlv), kReducedTolerance);
  EXPECT_LT(testing::max_relative_error(gg.dlogits, g.dlogits), kReducedTolerance);

  // Only the logits' gradient requested: the other sinks are null on the device.
  const Device gpu = Device::cuda(0);
  Tensor only = start_gradient({c.k}, 33, gpu, DType::Float32), none;
  kernels::vamp_log_density_backward(u.to(gpu), means.to(gpu), lv.to(gpu), logits.to(gpu), dout.to(gpu), none, none,
                                     none, only);
  EXPECT_LT(testing::max_relative_error(only, g.dlogits), kReducedTolerance);
}

}  // namespace
}  // namespace latf
