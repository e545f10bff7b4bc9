#include <cstdint>

#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/bincount_math.hpp"

namespace latf::kernels {

namespace {

// CUDA's 64-bit atomicAdd takes unsigned long long; counts are non-negative int64 of the same
// width, so adding through this type leaves the same bits.
using Count = unsigned long long;
static_assert(sizeof(Count) == sizeof(std::int64_t));

// Per-block histograms live in shared memory when they fit in this much (K ≤ 4095 states);
// beyond that every row adds straight into global memory.
constexpr int kSharedBytes = 32 * 1024;

bool fits_shared(std::int64_t bins) { return bins * static_cast<std::int64_t>(sizeof(Count)) <= kSharedBytes; }

// local[0 … bins) is zeroed by the block before any row is counted and flushed after.
__device__ void zero_local(Count* local, std::int64_t bins) {
  for (std::int64_t j = threadIdx.x; j < bins; j += blockDim.x) local[j] = 0;
  __syncthreads();
}

__device__ void flush_local(const Count* local, std::int64_t bins, Count* global) {
  __syncthreads();
  for (std::int64_t j = threadIdx.x; j < bins; j += blockDim.x)
    if (local[j] != 0) atomicAdd(global + j, local[j]);
}

__global__ void bincount_shared_kernel(const std::int64_t* labels, std::int64_t n, std::int64_t k, Count* counts) {
  extern __shared__ Count local[];
  zero_local(local, k);
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    if (labels[i] >= 0 && labels[i] < k) atomicAdd(local + labels[i], Count{1});
  flush_local(local, k, counts);
}

__global__ void bincount_global_kernel(const std::int64_t* labels, std::int64_t n, std::int64_t k, Count* counts) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    if (labels[i] >= 0 && labels[i] < k) atomicAdd(counts + labels[i], Count{1});
}

// Bin k of the local histogram collects non-finite rows.
__global__ void argmax_count_shared_kernel(const float* scores, std::int64_t n, int k, Count* counts,
                                           Count* non_finite) {
  extern __shared__ Count local[];
  zero_local(local, k + 1);
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const int best = histogram::row_argmax(scores + i * k, k);
    atomicAdd(local + (best >= 0 ? best : k), Count{1});
  }
  flush_local(local, k, counts);
  if (threadIdx.x == 0 && non_finite != nullptr && local[k] != 0) atomicAdd(non_finite, local[k]);
}

__global__ void argmax_count_global_kernel(const float* scores, std::int64_t n, int k, Count* counts,
                                           Count* non_finite) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const int best = histogram::row_argmax(scores + i * k, k);
    if (best >= 0) {
      atomicAdd(counts + best, Count{1});
    } else if (non_finite != nullptr) {
      atomicAdd(non_finite, Count{1});
    }
  }
}

}  // namespace

void bincount_cuda(const std::int64_t* labels, std::int64_t n, std::int64_t* counts, std::int64_t k, int device_index) {
  Count* out = reinterpret_cast<Count*>(counts);
  const auto stream = cuda::current_stream(device_index);
  if (fits_shared(k)) {
    bincount_shared_kernel<<<cuda::grid_for(n), cuda::kBlock, k * sizeof(Count), stream>>>(labels, n, k, out);
  } else {
    bincount_global_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, stream>>>(labels, n, k, out);
  }
  LATF_CUDA_CHECK_LAUNCH();
}

void argmax_count_cuda(const float* scores, std::int64_t n, int k, std::int64_t* counts, std::int64_t* non_finite,
                       int device_index) {
  Count* out = reinterpret_cast<Count*>(counts);
  Count* bad = reinterpret_cast<Count*>(non_finite);
  const auto stream = cuda::current_stream(device_index);
  if (fits_shared(k + 1)) {
    argmax_count_shared_kernel<<<cuda::grid_for(n), cuda::kBlock, (k + 1) * sizeof(Count), stream>>>(scores, n, k,
                                                                                                      out, bad);
  } else {
    argmax_count_global_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, stream>>>(scores, n, k, out, bad);
  }
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
