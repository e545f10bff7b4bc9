#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/adam_math.hpp"

namespace latf::kernels {

namespace {
__global__ void adam_kernel(float* p, const float* g, float* m, float* v, std::int64_t n,
                            AdamCoefficients<float> c) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    adam_update(p[i], g[i], m[i], v[i], c);
}
}  // namespace

void adam_step_cuda(float* params, const float* grads, float* m, float* v, std::int64_t n,
                    const AdamCoefficients<float>& coefficients, int device) {
  if (n == 0) return;
  adam_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, cuda::current_stream(device)>>>(params, grads, m, v, n,
                                                                                    coefficients);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
