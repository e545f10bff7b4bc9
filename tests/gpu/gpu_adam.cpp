#include "autodiff/optimizer.hpp"
#include "kernels/adam.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

struct Case {
  const char* name;
  float weight_decay;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class GpuAdam : public ::testing::TestWithParam<Case> {};

// Ten steps on a 1000-element flat buffer, CPU against CUDA.
TEST_P(GpuAdam, TenStepsMatchCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  const std::int64_t n = 1000;
  kernels::AdamConfig config;
  config.learning_rate = 0.01f;
  config.weight_decay = GetParam().weight_decay;
  Tensor p = testing::random_tensor({n}, 1), m = Tensor::zeros({n}), v = Tensor::zeros({n});
  Tensor pg = p.to(gpu), mg = Tensor::zeros({n}, gpu), vg = Tensor::zeros({n}, gpu);
  for (int step = 1; step <= 10; ++step) {
    Tensor g = testing::random_tensor({n}, 10 + step, -3, 3);
    kernels::adam_step(p, g, m, v, config, step);
    kernels::adam_step(pg, g.to(gpu), mg, vg, config, step);
  }
  EXPECT_LT(testing::max_relative_error(pg, p), 1e-5);
  EXPECT_LT(testing::max_relative_error(mg, m), 1e-5);
  EXPECT_LT(testing::max_relative_error(vg, v), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Configs, GpuAdam,
                         ::testing::Values(Case{"NoWeightDecay", 0.f}, Case{"WeightDecay", 0.05f}),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(GpuAdam, OptimizerOnDeviceParameterSet) {
  LATF_SKIP_WITHOUT_GPU();
  Tensor start = testing::random_tensor({12}, 3), grads = testing::random_tensor({12}, 4);
  Tensor result[2];
  for (int run = 0; run < 2; ++run) {
    autodiff::ParameterSet set;
    set.declare("w", {3, 3});
    set.declare("b", {3});
    set.allocate(run == 0 ? Device::cpu() : Device::cuda(0));
    Tensor values = set.flat_values(), flat_grads = set.flat_grads();
    values.copy_from(start);
    autodiff::Adam adam(set);
    for (int step = 0; step < 3; ++step) {
      set.zero_grad();
      flat_grads.copy_from(grads);
      adam.step(0.1f);
    }
    set.zero_grad();
    for (float g : set.flat_grads().to_vector()) ASSERT_EQ(g, 0.f);
    result[run] = set.flat_values().to(Device::cpu());
  }
  EXPECT_LT(testing::max_relative_error(result[1], result[0]), 1e-6);
}

}  // namespace
}  // namespace latf
