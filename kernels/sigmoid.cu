#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/sigmoid_math.hpp"

namespace latf::kernels {

namespace {
__global__ void forward_kernel(const float* x, float scale, float* y, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    y[i] = scaled_sigmoid(x[i], scale);
}
__global__ void backward_kernel(const float* y, float scale, const float* dy, float* dx, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    dx[i] += dy[i] * scaled_sigmoid_slope(y[i], scale);
}
}  // namespace

void scaled_sigmoid_forward_cuda(const float* x, float scale, float* y, std::int64_t n, int device) {
  if (n == 0) return;
  forward_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, cuda::current_stream(device)>>>(x, scale, y, n);
  LATF_CUDA_CHECK_LAUNCH();
}

void scaled_sigmoid_backward_cuda(const float* y, float scale, const float* dy, float* dx, std::int64_t n, int device) {
  if (n == 0) return;
  backward_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, cuda::current_stream(device)>>>(y, scale, dy, dx, n);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
