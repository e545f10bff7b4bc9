#include "tests/flow_fit.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

// The same seeded training run on both backends follows the same loss curve.
TEST(GpuTrainingStep, FollowsCpuLossCurve) {
  LATF_SKIP_WITHOUT_GPU();
  testing::FlowFit cpu(10, Device::cpu()), gpu(10, Device::cuda(0));
  for (int i = 0; i < 30; ++i) {
    const float a = cpu.step(), b = gpu.step();
    EXPECT_NEAR(b, a, 1e-3 * std::max(1.f, std::abs(a))) << "step " << i;
  }
}

TEST(GpuTrainingStep, SteadyStateMakesNoCudaMalloc) {
  LATF_SKIP_WITHOUT_GPU();
  testing::FlowFit fit(10, Device::cuda(0));
  for (int i = 0; i < 3; ++i) fit.step();
  const PoolStats before = pool_stats(Device::cuda(0));
  for (int i = 0; i < 5; ++i) fit.step();
  EXPECT_EQ(pool_stats(Device::cuda(0)).raw_allocations, before.raw_allocations);
}

}  // namespace
}  // namespace latf
