#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/permutation_math.hpp"

namespace latf::kernels {

namespace {
// The key travels by value in the kernel's parameter space (about 90 bytes).
__global__ void permutation_kernel(std::int64_t* out, PermutationKey key) {
  const std::int64_t n = static_cast<std::int64_t>(key.n);
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    out[i] = static_cast<std::int64_t>(permuted_index(key, static_cast<std::uint64_t>(i)));
}
}  // namespace

void permutation_cuda(std::int64_t* out, const PermutationKey& key, int device_index) {
  const auto n = static_cast<std::int64_t>(key.n);
  if (n == 0) return;
  permutation_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, cuda::current_stream(device_index)>>>(out, key);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
