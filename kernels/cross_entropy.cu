#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/cross_entropy.hpp"
#include "kernels/cross_entropy_math.hpp"
#include "kernels/model_sums.cuh"

namespace latf::kernels {

namespace {

// One thread per row: K is the number of states (small), so a row loop per thread is cheap and
// needs no cross-thread communication.
__global__ void log_softmax_kernel(const float* x, float* out, std::int64_t n, std::int64_t k) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    log_softmax_row(x + i * k, out + i * k, k);
}

__global__ void log_softmax_backward_kernel(const float* out, const float* dout, float* dx, std::int64_t n,
                                            std::int64_t k) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    log_softmax_backward_row(out + i * k, dout + i * k, dx + i * k, k);
}

// dloss is read from device memory by every thread: the backward never waits on the host. The
// model is blockIdx.y (gridDim.y = M stacked, 1 single); n rows per model.
__global__ void cross_entropy_backward_kernel(const float* x, const float* y, const float* w, const float* dloss,
                                              float* dx, std::int64_t n, std::int64_t k) {
  const std::int64_t m = blockIdx.y;
  x += m * n * k;
  y += m * n * k;
  dx += m * n * k;
  if (w) w += m * n;
  const float g = dloss[m] / float(n);
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    cross_entropy_backward_row(x + i * k, y + i * k, w ? g * w[i] : g, dx + i * k, k);
}

// Row i's weighted loss, widened to double so that CUB sums the rows in double.
struct WeightedRowLoss {
  const float* x;
  const float* y;
  const float* w;
  std::int64_t k;
  __device__ double operator()(std::int64_t i) const {
    const double row = cross_entropy_row(x + i * k, y + i * k, k);
    return w ? double(w[i]) * row : row;
  }
};

}  // namespace

void log_softmax_forward_cuda(const float* logits, float* out, std::int64_t n, std::int64_t k, int device) {
  if (n == 0) return;
  log_softmax_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, cuda::current_stream(device)>>>(logits, out, n, k);
  LATF_CUDA_CHECK_LAUNCH();
}

void log_softmax_backward_cuda(const float* out, const float* dout, float* dlogits, std::int64_t n,
                               std::int64_t k, int device) {
  if (n == 0) return;
  log_softmax_backward_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, cuda::current_stream(device)>>>(
      out, dout, dlogits, n, k);
  LATF_CUDA_CHECK_LAUNCH();
}

// Row r of the M·n stacked rows belongs to model r / n; rows, targets and weights are contiguous
// across models, so the row loss is the single form's over M·n rows, reduced per model.
void weighted_cross_entropy_forward_cuda(const float* logits, const float* targets, const float* weights,
                                         float* loss, std::int64_t models, std::int64_t n, std::int64_t k,
                                         int device) {
  scaled_model_sums(WeightedRowLoss{logits, targets, weights, k}, models, n, 1.0 / double(n), loss, device);
}

void weighted_cross_entropy_backward_cuda(const float* logits, const float* targets, const float* weights,
                                          const float* dloss, float* dlogits, std::int64_t models, std::int64_t n,
                                          std::int64_t k, int device) {
  const dim3 grid(cuda::grid_for(n), static_cast<unsigned>(models));
  cross_entropy_backward_kernel<<<grid, cuda::kBlock, 0, cuda::current_stream(device)>>>(
      logits, targets, weights, dloss, dlogits, n, k);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
