#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/gather_math.hpp"

namespace latf::kernels {

namespace {
__global__ void gather_pairs_kernel(PairGatherArgs args, std::int64_t rows) {
  for (std::int64_t r = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; r < rows;
       r += std::int64_t(gridDim.x) * blockDim.x)
    pair_gather_row(args, r);
}

// One thread per (model, row), rows of one model adjacent. The start is read from device memory,
// so a captured graph follows the counter advance_position moves.
__global__ void gather_pairs_stacked_kernel(StackedPairGatherArgs args, std::int64_t models) {
  const std::int64_t start = *args.start, total = models * args.rows;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < total;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t m = i / args.rows, r = i - m * args.rows;
    const PairGatherArgs model = stacked_pair_gather_model(args, m, start);
    if (start >= 0 && start + r < args.positions) {
      pair_gather_row(model, r);
    } else {
      pair_gather_empty_row(model, r);
    }
  }
}

__global__ void advance_position_kernel(std::int64_t* position, std::int64_t by, std::int64_t wrap) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *position = advanced_position(*position, by, wrap);
}

__global__ void identity_kernel(std::int64_t* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    out[i] = i;
}
}  // namespace

void gather_pairs_stacked_cuda(const StackedPairGatherArgs& args, std::int64_t models, int device_index) {
  gather_pairs_stacked_kernel<<<cuda::grid_for(models * args.rows), cuda::kBlock, 0,
                                cuda::current_stream(device_index)>>>(args, models);
  LATF_CUDA_CHECK_LAUNCH();
}

void advance_position_cuda(std::int64_t* position, std::int64_t by, std::int64_t wrap, int device_index) {
  advance_position_kernel<<<1, 1, 0, cuda::current_stream(device_index)>>>(position, by, wrap);
  LATF_CUDA_CHECK_LAUNCH();
}

void stack_identity_cuda(std::int64_t* out, std::int64_t n, int device_index) {
  identity_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, cuda::current_stream(device_index)>>>(out, n);
  LATF_CUDA_CHECK_LAUNCH();
}

void gather_pairs_cuda(const PairGatherArgs& args, std::int64_t rows, int device_index) {
  gather_pairs_kernel<<<cuda::grid_for(rows), cuda::kBlock, 0, cuda::current_stream(device_index)>>>(args, rows);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
