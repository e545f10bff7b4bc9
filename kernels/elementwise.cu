#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"

namespace latf::kernels {

namespace {
__global__ void axpby_kernel(float alpha, const float* a, float beta, const float* b, float* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    out[i] = alpha * a[i] + beta * b[i];
}
}  // namespace

void axpby_cuda(float alpha, const float* a, float beta, const float* b, float* out, std::int64_t n, int device) {
  if (n == 0) return;
  axpby_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, cuda::current_stream(device)>>>(alpha, a, beta, b, out, n);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
