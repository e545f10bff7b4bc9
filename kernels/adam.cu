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

// One thread per model: advance its step count and derive its coefficients, on the device so
// that a step reads no scalar from the host.
__global__ void adam_models_coefficients_kernel(AdamConfig config, const float* rates, std::int64_t* steps,
                                                int models, AdamCoefficients<float>* c) {
  for (int model = blockIdx.x * blockDim.x + threadIdx.x; model < models; model += gridDim.x * blockDim.x)
    c[model] = adam_coefficients<float>(config, rates[model], ++steps[model]);
}

__global__ void adam_models_kernel(float* p, const float* g, float* m, float* v, std::int64_t n,
                                   const std::int64_t* segments, int segment_count,
                                   const AdamCoefficients<float>* c) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    adam_update(p[i], g[i], m[i], v[i], c[stacked_model_of(segments, segment_count, i)]);
}
}  // namespace

void adam_step_cuda(float* params, const float* grads, float* m, float* v, std::int64_t n,
                    const AdamCoefficients<float>& coefficients, int device) {
  if (n == 0) return;
  adam_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, cuda::current_stream(device)>>>(params, grads, m, v, n,
                                                                                    coefficients);
  LATF_CUDA_CHECK_LAUNCH();
}

// Both launches go on the device's stream in order: the update reads coefficients the first
// launch wrote.
void adam_step_models_cuda(float* params, const float* grads, float* m, float* v, std::int64_t n,
                           const AdamConfig& config, const float* learning_rates, std::int64_t* steps, int models,
                           const std::int64_t* segments, int segment_count, AdamCoefficients<float>* coefficients,
                           int device) {
  const cudaStream_t stream = cuda::current_stream(device);
  adam_models_coefficients_kernel<<<cuda::grid_for(models), cuda::kBlock, 0, stream>>>(config, learning_rates, steps,
                                                                                        models, coefficients);
  LATF_CUDA_CHECK_LAUNCH();
  if (n == 0) return;
  adam_models_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, stream>>>(params, grads, m, v, n, segments,
                                                                     segment_count, coefficients);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
