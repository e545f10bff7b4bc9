#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "systems/langevin.hpp"
#include "systems/three_hole_reference.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using namespace systems;

LangevinConfig short_run() {
  LangevinConfig c;
  c.temperature = 1.0;
  c.replicas = 100;
  c.frames = 50;
  c.equilibration_steps = 0;
  c.seed = 3;
  return c;
}

// Same noise, same formulas: the paths differ only by the last-bit differences of exp, log,
// sin and cos between the host and device libraries, which 500 steps cannot grow to 1e-4.
TEST(GpuThreeHole, ShortTrajectoriesMatchCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const LangevinConfig c = short_run();
  const Tensor cpu = simulate_three_hole(c);
  const Tensor gpu = simulate_three_hole(c, Device::cuda(0));
  ASSERT_EQ(gpu.shape(), cpu.shape());
  EXPECT_TRUE(gpu.device().is_cuda());
  const std::vector<float> a = cpu.to_vector(), b = gpu.to(Device::cpu()).to_vector();
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]));
  EXPECT_LT(worst, 1e-4);
}

TEST(GpuThreeHole, Reproducible) {
  LATF_SKIP_WITHOUT_GPU();
  LangevinConfig c = short_run();
  c.equilibration_steps = 1000;
  const std::vector<float> first = simulate_three_hole(c, Device::cuda(0)).to(Device::cpu()).to_vector();
  EXPECT_EQ(simulate_three_hole(c, Device::cuda(0)).to(Device::cpu()).to_vector(), first);
  c.seed = 4;
  EXPECT_NE(simulate_three_hole(c, Device::cuda(0)).to(Device::cpu()).to_vector(), first);
}

// Long independent replicas on the device against the quadrature populations at T = 1.
TEST(GpuThreeHole, PopulationsMatchQuadrature) {
  LATF_SKIP_WITHOUT_GPU();
  LangevinConfig c;
  c.temperature = 1.0;
  c.replicas = 16384;
  c.frames = 2000;
  c.equilibration_steps = 3000;
  c.seed = 77;
  const Device gpu = Device::cuda(0);
  simulate_three_hole(short_run(), gpu);  // warm-up: context and module load
  synchronize(gpu);
  const auto start = std::chrono::steady_clock::now();
  const Tensor out = simulate_three_hole(c, gpu);
  synchronize(gpu);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ langevin ] GPU: %d replicas x %lld frames in %.3f s: %.3g frames/s\n", c.replicas,
              static_cast<long long>(c.frames), seconds, c.replicas * double(c.frames) / seconds);
  const std::vector<float> xy = out.to(Device::cpu()).to_vector();
  double mean[3] = {0, 0, 0}, square[3] = {0, 0, 0};
  for (int r = 0; r < c.replicas; ++r) {
    double counts[3] = {0, 0, 0};
    for (std::int64_t f = 0; f < c.frames; ++f) {
      const std::size_t i = 2 * (std::size_t(r) * c.frames + f);
      counts[grid_basin_of(xy[i], xy[i + 1])] += 1;
    }
    for (int b = 0; b < 3; ++b) {
      mean[b] += counts[b] / c.frames / c.replicas;
      square[b] += counts[b] * counts[b] / (double(c.frames) * c.frames) / c.replicas;
    }
  }
  const BasinPopulations exact = exact_basin_populations(1.0);
  for (int b = 0; b < 3; ++b) {
    const double error = std::sqrt((square[b] - mean[b] * mean[b]) / (c.replicas - 1));
    std::printf("[ langevin ] GPU basin %d: %.4f +- %.4f   exact %.4f\n", b, mean[b], error, exact[b]);
    EXPECT_NEAR(mean[b], exact[b], 4.5 * error) << "basin " << b;
  }
}

}  // namespace
}  // namespace latf
