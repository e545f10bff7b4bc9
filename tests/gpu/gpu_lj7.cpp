#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "systems/lj7.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using namespace systems;

Lj7Config short_run() {
  Lj7Config c;
  c.temperature = 0.5;
  c.replicas = 100;
  c.frames = 50;
  c.steps_per_frame = 10;
  c.equilibration_steps = 0;
  c.seed = 3;
  return c;
}

double worst_difference(const Tensor& cpu, const Tensor& gpu) {
  const std::vector<float> a = cpu.to_vector(), b = gpu.to(Device::cpu()).to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]));
  return worst;
}

// Same noise, same formulas: the paths differ only by last-bit differences of the host and
// device maths libraries (and contractions into fma), which 500 steps (2.5 time units) of the
// chaotic cluster cannot grow to 1e-4.
TEST(GpuLj7, ShortTrajectoriesMatchCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Lj7Config c = short_run();
  const Lj7Trajectories cpu = simulate_lj7(c);
  const Lj7Trajectories gpu = simulate_lj7(c, Device::cuda(0));
  ASSERT_EQ(gpu.positions.shape(), cpu.positions.shape());
  ASSERT_EQ(gpu.descriptors.shape(), cpu.descriptors.shape());
  ASSERT_EQ(gpu.order_parameters.shape(), cpu.order_parameters.shape());
  EXPECT_TRUE(gpu.positions.device().is_cuda());
  EXPECT_LT(worst_difference(cpu.positions, gpu.positions), 1e-4);
  EXPECT_LT(worst_difference(cpu.descriptors, gpu.descriptors), 1e-4);
  EXPECT_LT(worst_difference(cpu.order_parameters, gpu.order_parameters), 1e-4);
}

// The device's descriptors are those of its own positions, as lj7_descriptors computes them.
TEST(GpuLj7, DescriptorsMatchTheirPositions) {
  LATF_SKIP_WITHOUT_GPU();
  Lj7Config c = short_run();
  c.equilibration_steps = 2000;
  const Lj7Trajectories gpu = simulate_lj7(c, Device::cuda(0));
  const std::vector<float> pos = gpu.positions.to(Device::cpu()).to_vector(),
                           desc = gpu.descriptors.to(Device::cpu()).to_vector(),
                           op = gpu.order_parameters.to(Device::cpu()).to_vector();
  double worst = 0;
  for (std::size_t frame = 0; frame < pos.size() / 14; ++frame) {
    float c7[7], mu[2];
    lj7_descriptors(&pos[frame * 14], c7, mu);
    for (int i = 0; i < 7; ++i) worst = std::max(worst, std::abs(double(c7[i]) - desc[frame * 7 + i]));
    worst = std::max(worst, std::abs(double(mu[0]) - op[frame * 2]));
    worst = std::max(worst, std::abs(double(mu[1]) - op[frame * 2 + 1]));
  }
  EXPECT_LT(worst, 1e-5);
}

TEST(GpuLj7, ReproducibleAndSeedDependent) {
  LATF_SKIP_WITHOUT_GPU();
  Lj7Config c = short_run();
  c.equilibration_steps = 1000;
  const std::vector<float> first = simulate_lj7(c, Device::cuda(0)).positions.to(Device::cpu()).to_vector();
  EXPECT_EQ(simulate_lj7(c, Device::cuda(0)).positions.to(Device::cpu()).to_vector(), first);
  c.seed = 4;
  EXPECT_NE(simulate_lj7(c, Device::cuda(0)).positions.to(Device::cpu()).to_vector(), first);
}

// Many replicas at T = 0.7 on the device: throughput, and no atom past the wall + 0.5.
TEST(GpuLj7, ThroughputAndConfinement) {
  LATF_SKIP_WITHOUT_GPU();
  Lj7Config c;
  c.temperature = 0.7;
  c.replicas = 8192;
  c.frames = 200;
  c.seed = 77;
  const Device gpu = Device::cuda(0);
  simulate_lj7(short_run(), gpu);  // warm-up: context and module load
  synchronize(gpu);
  const auto start = std::chrono::steady_clock::now();
  const Lj7Trajectories out = simulate_lj7(c, gpu);
  synchronize(gpu);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double steps = double(c.replicas) * (c.equilibration_steps + c.frames * c.steps_per_frame);
  std::printf("[ lj7 ] GPU: %d replicas x %lld frames in %.3f s: %.3g frames/s, %.3g steps/s\n", c.replicas,
              static_cast<long long>(c.frames), seconds, c.replicas * double(c.frames) / seconds, steps / seconds);
  const std::vector<float> pos = out.positions.to(Device::cpu()).to_vector();
  double worst = 0;
  for (std::size_t k = 0; k < pos.size() / 14; ++k) {
    double cx = 0, cy = 0;
    for (int i = 0; i < 7; ++i) cx += pos[k * 14 + 2 * i] / 7.0, cy += pos[k * 14 + 2 * i + 1] / 7.0;
    for (int i = 0; i < 7; ++i)
      worst = std::max(worst, std::hypot(pos[k * 14 + 2 * i] - cx, pos[k * 14 + 2 * i + 1] - cy));
  }
  std::printf("[ lj7 ] GPU: farthest atom %.3f from the centre of mass\n", worst);
  EXPECT_LT(worst, 2.5);
}

}  // namespace
}  // namespace latf
