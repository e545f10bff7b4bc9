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
}  // namespace

void gather_pairs_cuda(const PairGatherArgs& args, std::int64_t rows, int device_index) {
  gather_pairs_kernel<<<cuda::grid_for(rows), cuda::kBlock, 0, cuda::current_stream(device_index)>>>(args, rows);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
