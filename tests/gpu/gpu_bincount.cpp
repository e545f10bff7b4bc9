// argmax_count and bincount: CUDA counts equal the CPU's exactly (integers), on both CUDA paths
// (shared-memory block histograms for small K, global atomics for large K).
#include <vector>

#include "kernels/bincount.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using kernels::Indices;

class GpuArgmaxCount : public ::testing::TestWithParam<int> {};

TEST_P(GpuArgmaxCount, EqualsCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const int k = GetParam();
  const std::int64_t n = k > 1000 ? 20000 : 300007;
  Tensor scores = testing::random_tensor({n, k}, 5 + k, -4, 4);
  scores.data<float>()[3 * k] = NAN;  // one non-finite row
  Indices cpu = Indices::from_vector(std::vector<std::int64_t>(k, 0)), cpu_bad = Indices::from_vector({0});
  kernels::argmax_count(scores, cpu, cpu_bad);
  Indices gpu = Indices::from_vector(std::vector<std::int64_t>(k, 0), Device::cuda(0));
  Indices gpu_bad = Indices::from_vector({0}, Device::cuda(0));
  const Tensor scores_gpu = scores.to(Device::cuda(0));
  kernels::argmax_count(scores_gpu, gpu, gpu_bad);
  kernels::argmax_count(scores_gpu, gpu, gpu_bad);  // accumulates
  std::vector<std::int64_t> twice = cpu.to_vector();
  for (auto& x : twice) x *= 2;
  EXPECT_EQ(gpu.to_vector(), twice);
  EXPECT_EQ(cpu_bad.to_vector()[0], 1);
  EXPECT_EQ(gpu_bad.to_vector()[0], 2);
}

INSTANTIATE_TEST_SUITE_P(States, GpuArgmaxCount, ::testing::Values(1, 3, 17, 5000),
                         [](const ::testing::TestParamInfo<int>& info) { return "K" + std::to_string(info.param); });

TEST(GpuBincount, EqualsCpu) {
  LATF_SKIP_WITHOUT_GPU();
  for (std::int64_t k : {4, 6000}) {
    std::vector<std::int64_t> labels;
    for (std::int64_t i = 0; i < 500000; ++i) labels.push_back((i * 2654435761u) % k);
    Indices cpu = Indices::from_vector(std::vector<std::int64_t>(k, 0));
    kernels::bincount(Indices::from_vector(labels), cpu);
    Indices gpu = Indices::from_vector(std::vector<std::int64_t>(k, 0), Device::cuda(0));
    kernels::bincount(Indices::from_vector(labels, Device::cuda(0)), gpu);
    EXPECT_EQ(gpu.to_vector(), cpu.to_vector()) << "K = " << k;
  }
}

}  // namespace
}  // namespace latf
