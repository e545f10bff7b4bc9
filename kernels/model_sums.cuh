#pragma once
// Per-model sums on the device, shared by the losses that reduce over rows (cross-entropy,
// weighted sums): out[m] = float(scale · Σ_{i ∈ [m·n, (m+1)·n)} term(i)), accumulated in double
// by CUB. One model keeps the device-wide reduction; M > 1 is one segmented reduction, a segment
// per model. CUB's scratch space comes from the pool: a steady-state step makes no cudaMalloc.
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/iterator/transform_output_iterator.h>

#include <cub/device/device_reduce.cuh>
#include <cub/device/device_segmented_reduce.cuh>
#include <cuda/std/functional>

#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "engine/tensor.hpp"

namespace latf::kernels {

struct ScaleToFloat {
  double scale;
  __device__ float operator()(double total) const { return static_cast<float>(scale * total); }
};

// First index of model m: the segments of the per-model sums.
struct SegmentStart {
  std::int64_t n;
  __device__ std::int64_t operator()(std::int64_t m) const { return m * n; }
};

// `term` maps an index (int64) to its double-precision term.
template <class Term>
void scaled_model_sums(const Term& term, std::int64_t models, std::int64_t n, double scale, float* out, int device) {
  cudaStream_t stream = cuda::current_stream(device);
  thrust::counting_iterator<std::int64_t> indices(0);
  auto result = thrust::make_transform_output_iterator(out, ScaleToFloat{scale});
  std::size_t temp_bytes = 0;
  const auto scratch = [&] {
    return Tensor::empty({static_cast<std::int64_t>(temp_bytes / sizeof(float) + 1)}, Device::cuda(device));
  };
  if (models > 1) {
    auto terms = thrust::make_transform_iterator(indices, term);
    auto begins = thrust::make_transform_iterator(indices, SegmentStart{n});
    auto ends = begins + 1;
    LATF_CUDA_CHECK(cub::DeviceSegmentedReduce::Reduce(nullptr, temp_bytes, terms, result, models, begins, ends,
                                                       ::cuda::std::plus<double>{}, 0.0, stream));
    Tensor temp = scratch();
    LATF_CUDA_CHECK(cub::DeviceSegmentedReduce::Reduce(temp.raw_data(), temp_bytes, terms, result, models, begins,
                                                       ends, ::cuda::std::plus<double>{}, 0.0, stream));
    return;
  }
  LATF_CUDA_CHECK(cub::DeviceReduce::TransformReduce(nullptr, temp_bytes, indices, result, n,
                                                     ::cuda::std::plus<double>{}, term, 0.0, stream));
  Tensor temp = scratch();
  LATF_CUDA_CHECK(cub::DeviceReduce::TransformReduce(temp.raw_data(), temp_bytes, indices, result, n,
                                                     ::cuda::std::plus<double>{}, term, 0.0, stream));
}

}  // namespace latf::kernels
