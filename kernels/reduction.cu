#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/model_sums.cuh"
#include "kernels/reduction.hpp"

namespace latf::kernels {

namespace {

// Term i of the sum, widened to double so that CUB accumulates in double.
struct WeightedTerm {
  const float* x;
  const float* w;
  __device__ double operator()(std::int64_t i) const { return w ? double(w[i]) * double(x[i]) : double(x[i]); }
};

// dout is read from device memory here, never on the host: the backward queues without waiting.
// The model is blockIdx.y (gridDim.y = 1 for the single sum); n elements per model.
__global__ void weighted_sum_backward_kernel(const float* x, const float* w, double scale, const float* dout,
                                             float* dx, float* dw, std::int64_t n) {
  const std::int64_t m = blockIdx.y;
  x += m * n;
  if (w) w += m * n;
  if (dx) dx += m * n;
  if (dw) dw += m * n;
  const float s = static_cast<float>(scale * double(dout[m]));
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    if (dx) dx[i] += w ? s * w[i] : s;
    if (dw) dw[i] += s * x[i];
  }
}

}  // namespace

void weighted_sum_forward_cuda(const float* x, const float* weights, double scale, float* out, std::int64_t models,
                               std::int64_t n, int device) {
  if (n == 0) {
    cuda::memset_zero(out, static_cast<std::size_t>(models) * sizeof(float), device);
    return;
  }
  scaled_model_sums(WeightedTerm{x, weights}, models, n, scale, out, device);
}

void weighted_sum_backward_cuda(const float* x, const float* weights, double scale, const float* dout, float* dx,
                                float* dweights, std::int64_t models, std::int64_t n, int device) {
  if (n == 0) return;
  const dim3 grid(cuda::grid_for(n), static_cast<unsigned>(models));
  weighted_sum_backward_kernel<<<grid, cuda::kBlock, 0, cuda::current_stream(device)>>>(
      x, weights, scale, dout, dx, dweights, n);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
