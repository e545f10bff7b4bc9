// count_generated_states on CUDA: the prior draws are bit-identical to the CPU's (Philox), and G
// and the decoder agree to float rounding, so the counts differ only by samples lying within
// rounding of a state boundary — a tiny fraction.
#include <cmath>
#include <numeric>

#include "engine/random_fill.hpp"
#include "models/inference.hpp"
#include "tests/streaming_support.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using testing::streaming_model;

std::int64_t total_difference(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  std::int64_t d = 0;
  for (std::size_t j = 0; j < a.size(); ++j) d += std::llabs(a[j] - b[j]);
  return d;
}

TEST(GpuInferenceStreaming, CpuAndCudaCountsAgree) {
  LATF_SKIP_WITHOUT_GPU();
  const auto cpu_model = streaming_model(Device::cpu());
  const auto gpu_model = streaming_model(Device::cuda(0));
  const std::int64_t n = 1000003;
  const auto cpu = models::count_generated_states(cpu_model, 2.5, n, 11);
  const auto gpu = models::count_generated_states(gpu_model, 2.5, n, 11, 1 << 18);
  ASSERT_EQ(gpu.counts.size(), 4u);
  EXPECT_EQ(std::accumulate(gpu.counts.begin(), gpu.counts.end(), std::int64_t{0}), n);
  // Same draws: at most 1e-4 of the samples may sit close enough to a boundary to flip.
  EXPECT_LE(total_difference(cpu.counts, gpu.counts), n / 10000) << "CPU and CUDA counts differ";
  const auto small_chunks = models::count_generated_states(gpu_model, 2.5, n, 11, 1000);
  EXPECT_LE(total_difference(small_chunks.counts, gpu.counts), n / 10000) << "CUDA counts depend on the chunk";
}

// The target: 10⁸ samples at one temperature without leaving the device.
TEST(GpuInferenceStreaming, HundredMillionSamples) {
  LATF_SKIP_WITHOUT_GPU();
  const auto gpu_model = streaming_model(Device::cuda(0));
  const std::int64_t n = 100000000;
  const auto gpu = models::count_generated_states(gpu_model, 2.5, n, 3);
  EXPECT_EQ(std::accumulate(gpu.counts.begin(), gpu.counts.end(), std::int64_t{0}), n);
  // Against 10⁶ CPU samples of the same stream: each population within 5 binomial errors.
  const std::int64_t m = 1000000;
  const auto cpu = models::count_generated_states(streaming_model(Device::cpu()), 2.5, m, 3);
  for (int j = 0; j < 4; ++j) {
    const double p = static_cast<double>(cpu.counts[j]) / m, q = static_cast<double>(gpu.counts[j]) / n;
    EXPECT_NEAR(q, p, 5 * std::sqrt(p * (1 - p) / m) + 1e-6) << "state " << j;
  }
}

}  // namespace
}  // namespace latf
