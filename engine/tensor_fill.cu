#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "engine/tensor_fill.hpp"

namespace latf {

namespace {
__global__ void fill_kernel(float* data, std::int64_t n, float value) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    data[i] = value;
}
}  // namespace

void fill_cuda(float* data, std::int64_t n, float value, int device_index) {
  cudaStream_t stream = cuda::current_stream(device_index);
  fill_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, stream>>>(data, n, value);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf
