#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "engine/random_math.hpp"

namespace latf {

namespace {
__global__ void random_fill_kernel(float* out, std::int64_t n, std::uint64_t seed, std::uint64_t stream,
                                   bool normal, double shift, double scale) {
  const std::int64_t blocks = (n + 3) / 4;
  for (std::int64_t block = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; block < blocks;
       block += std::int64_t(gridDim.x) * blockDim.x) {
    double values[4];
    if (normal) {
      rng::normal_block(seed, stream, block, values);
    } else {
      rng::uniform_block(seed, stream, block, values);
    }
    for (int j = 0; j < 4 && block * 4 + j < n; ++j) out[block * 4 + j] = static_cast<float>(shift + scale * values[j]);
  }
}
}  // namespace

void random_fill_cuda(float* out, std::int64_t n, std::uint64_t seed, std::uint64_t stream, bool normal,
                      double shift, double scale, int device_index) {
  if (n == 0) return;
  random_fill_kernel<<<cuda::grid_for((n + 3) / 4), cuda::kBlock, 0, cuda::current_stream(device_index)>>>(
      out, n, seed, stream, normal, shift, scale);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf
