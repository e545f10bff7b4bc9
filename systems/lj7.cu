#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "engine/tensor.hpp"
#include "systems/langevin_math.hpp"
#include "systems/lj7.hpp"
#include "systems/lj7_math.hpp"

namespace latf::systems {

namespace {
// One thread per replica, the same body as the CPU loop (run_lj7_replica): the state lives in
// the thread, only the frames and their descriptors go to memory.
__global__ void lj7_langevin_kernel(LangevinRun run, std::int64_t replicas, float* positions, float* descriptors,
                                    float* order) {
  for (std::int64_t r = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; r < replicas;
       r += std::int64_t(gridDim.x) * blockDim.x)
    run_lj7_replica(run, r, positions + r * run.frames * kLj7Dim, descriptors + r * run.frames * kLj7Atoms,
                    order + r * run.frames * 2);
}
}  // namespace

void simulate_lj7_cuda(const LangevinRun& run, std::int64_t replicas, Lj7Trajectories& out) {
  const int index = out.positions.device().index;
  cuda::set_device(index);
  // Small blocks: with a few hundred replicas, 64-thread blocks spread them over more SMs.
  constexpr int kReplicaBlock = 64;
  lj7_langevin_kernel<<<cuda::grid_for(replicas, kReplicaBlock), kReplicaBlock, 0, cuda::current_stream(index)>>>(
      run, replicas, out.positions.data<float>(), out.descriptors.data<float>(), out.order_parameters.data<float>());
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::systems
