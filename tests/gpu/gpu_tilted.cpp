#include <string>
#include <vector>

#include "autodiff/ops.hpp"
#include "kernels/tilted.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

struct Case {
  std::int64_t n;
  int d;
  double tau, t;
  const char* name;
};

class GpuTilted : public ::testing::TestWithParam<Case> {};

// CPU vs CUDA, forward (with and without c) and accumulating backward; row 0 sits at z = 0.
TEST_P(GpuTilted, DensityMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  std::vector<float> zv = testing::random_tensor({c.n, c.d}, 1, -3.0, 3.0).to_vector();
  for (int j = 0; j < c.d; ++j) zv[j] = 0.f;
  Tensor z = Tensor::from_vector(zv, {c.n, c.d});
  Tensor b = testing::random_tensor({c.n}, 2, 0.25, 4.0), cn = testing::random_tensor({c.n}, 3, -5.0, 5.0);
  Tensor dout = testing::random_tensor({c.n}, 4), dz0 = testing::random_tensor({c.n, c.d}, 5);
  const float tau = static_cast<float>(c.tau);
  for (bool with_c : {true, false}) {
    Tensor out = Tensor::empty({c.n}), out_g = Tensor::empty({c.n}, gpu);
    kernels::tilted_log_density_forward(z, b, with_c ? cn : Tensor(), tau, out);
    kernels::tilted_log_density_forward(z.to(gpu), b.to(gpu), with_c ? cn.to(gpu) : Tensor(), tau, out_g);
    EXPECT_LT(testing::max_relative_error(out_g, out), 1e-5) << "with_c=" << with_c;
  }
  Tensor dz = dz0.clone(), dz_g = dz0.to(gpu);
  kernels::tilted_log_density_backward(z, b, tau, dout, dz);
  kernels::tilted_log_density_backward(z.to(gpu), b.to(gpu), tau, dout.to(gpu), dz_g);
  EXPECT_LT(testing::max_relative_error(dz_g, dz), 1e-5);
  const std::vector<float> g = dz_g.to(Device::cpu()).to_vector(), g0 = dz0.to_vector();
  for (int j = 0; j < c.d; ++j) EXPECT_EQ(g[j], g0[j]) << "the gradient at z = 0 is −b·z = 0";
}

// Same (seed, stream): the same samples on both backends, up to float rounding.
TEST_P(GpuTilted, SamplerMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  Tensor z = Tensor::empty({c.n, c.d}), z_g = Tensor::empty({c.n, c.d}, Device::cuda(0));
  kernels::tilted_sample(z, c.tau, c.t, 77, 5);
  kernels::tilted_sample(z_g, c.tau, c.t, 77, 5);
  EXPECT_LT(testing::max_relative_error(z_g, z), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuTilted,
                         ::testing::Values(Case{1, 2, 2.0, 1.0, "n1_d2"}, Case{513, 1, 3.0, 0.5, "n513_d1"},
                                           Case{513, 3, 0.0, 2.0, "n513_d3_tau0"},
                                           Case{100000, 2, 2.0, 3.5, "n100000_d2"},
                                           Case{100000, 8, 10.0, 2.0, "n100000_d8"}),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(GpuTilted, AutodiffOpRunsOnDevice) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  Tensor z = testing::random_tensor({64, 2}, 6, -2.0, 2.0), b = testing::random_tensor({64}, 7, 0.5, 2.0);
  Tensor seed = testing::random_tensor({64}, 8);
  Tensor grads[2];
  for (int k = 0; k < 2; ++k) {
    const Device device = k == 0 ? Device::cpu() : gpu;
    autodiff::Tape tape;
    autodiff::Var zv = tape.variable(z.to(device));
    autodiff::Var out = autodiff::tilted_log_density(tape, zv, tape.constant(b.to(device)), autodiff::Var{}, 2.f);
    tape.backward(out, seed.to(device));
    grads[k] = tape.grad(zv).to(Device::cpu());
  }
  EXPECT_LT(testing::max_relative_error(grads[1], grads[0]), 1e-5);
}

TEST(GpuTilted, RejectsMixedDevicesNamingOperand) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  Tensor z = Tensor::zeros({4, 2}, gpu), out = Tensor::zeros({4}, gpu);
  try {
    kernels::tilted_log_density_forward(z, Tensor::full({4}, 1.0), Tensor(), 1.f, out);
    FAIL() << "expected an exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("inverse_temperature"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace latf
