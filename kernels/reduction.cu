#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/iterator/transform_output_iterator.h>

#include <cub/device/device_reduce.cuh>
#include <cub/device/device_segmented_reduce.cuh>
#include <cuda/std/functional>

#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/reduction.hpp"

namespace latf::kernels {

namespace {

// Term i of the sum, widened to double so that CUB accumulates in double.
struct WeightedTerm {
  const float* x;
  const float* w;
  __device__ double operator()(std::int64_t i) const { return w ? double(w[i]) * double(x[i]) : double(x[i]); }
};

struct ScaleToFloat {
  double scale;
  __device__ float operator()(double total) const { return static_cast<float>(scale * total); }
};

// First element of model m: the segments of the per-model sums.
struct SegmentStart {
  std::int64_t n;
  __device__ std::int64_t operator()(std::int64_t m) const { return m * n; }
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
  cudaStream_t stream = cuda::current_stream(device);
  if (n == 0) {
    cuda::memset_zero(out, static_cast<std::size_t>(models) * sizeof(float), device);
    return;
  }
  thrust::counting_iterator<std::int64_t> indices(0);
  auto result = thrust::make_transform_output_iterator(out, ScaleToFloat{scale});
  const WeightedTerm term{x, weights};
  std::size_t temp_bytes = 0;
  if (models > 1) {  // one segment per model; a single sum keeps the device-wide reduction below
    auto terms = thrust::make_transform_iterator(indices, term);
    auto begins = thrust::make_transform_iterator(indices, SegmentStart{n});
    auto ends = begins + 1;
    LATF_CUDA_CHECK(cub::DeviceSegmentedReduce::Reduce(nullptr, temp_bytes, terms, result, models, begins, ends,
                                                       ::cuda::std::plus<double>{}, 0.0, stream));
    Tensor temp = Tensor::empty({static_cast<std::int64_t>(temp_bytes / sizeof(float) + 1)}, Device::cuda(device));
    LATF_CUDA_CHECK(cub::DeviceSegmentedReduce::Reduce(temp.raw_data(), temp_bytes, terms, result, models, begins,
                                                       ends, ::cuda::std::plus<double>{}, 0.0, stream));
    return;
  }
  LATF_CUDA_CHECK(cub::DeviceReduce::TransformReduce(nullptr, temp_bytes, indices, result, n,
                                                     ::cuda::std::plus<double>{}, term, 0.0, stream));
  // CUB's scratch space comes from the pool, so a steady-state step makes no cudaMalloc.
  Tensor temp = Tensor::empty({static_cast<std::int64_t>(temp_bytes / sizeof(float) + 1)}, Device::cuda(device));
  LATF_CUDA_CHECK(cub::DeviceReduce::TransformReduce(temp.raw_data(), temp_bytes, indices, result, n,
                                                     ::cuda::std::plus<double>{}, term, 0.0, stream));
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
