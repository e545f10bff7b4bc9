#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "engine/tensor.hpp"
#include "systems/langevin_math.hpp"
#include "systems/three_hole_math.hpp"

namespace latf::systems {

namespace {
// One thread per replica, the same body as the CPU loop. Replicas are independent and long
// (thousands of steps), so there is nothing to share between threads; the position state
// stays in registers and only the frames go to memory.
__global__ void three_hole_langevin_kernel(LangevinRun run, std::int64_t replicas, const float* starts, float* out) {
  const std::int64_t per_replica = run.frames * ThreeHoleSystem::kDim;
  for (std::int64_t r = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; r < replicas;
       r += std::int64_t(gridDim.x) * blockDim.x)
    run_langevin_replica<ThreeHoleSystem>(run, r, starts ? starts + r * ThreeHoleSystem::kDim : nullptr,
                                          out + r * per_replica);
}
}  // namespace

void simulate_three_hole_cuda(const LangevinRun& run, std::int64_t replicas, const float* starts, Tensor& out) {
  const int index = out.device().index;
  cuda::set_device(index);
  // Small blocks: with a few hundred replicas, 64-thread blocks spread them over more SMs.
  constexpr int kReplicaBlock = 64;
  three_hole_langevin_kernel<<<cuda::grid_for(replicas, kReplicaBlock), kReplicaBlock, 0,
                               cuda::current_stream(index)>>>(run, replicas, starts, out.data<float>());
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::systems
