#include "systems/langevin.hpp"

#include "systems/replica_threads.hpp"

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

#include "engine/error.hpp"
#include "systems/langevin_math.hpp"
#include "systems/three_hole_math.hpp"

namespace latf::systems {

#if LATF_WITH_CUDA
void simulate_three_hole_cuda(const LangevinRun& run, std::int64_t replicas, const float* starts, Tensor& out);
#endif

namespace {

// Separates the Langevin noise from other users of the same seed (exact_samples and so on).
constexpr std::uint64_t kThreeHoleLangevinStreams = std::uint64_t{0x3401} << 40;


void simulate_cpu(const LangevinRun& run, std::int64_t replicas, int threads, const float* starts, float* out) {
  const std::int64_t per_replica = run.frames * ThreeHoleSystem::kDim;
  for_each_replica(replicas, threads, [&](std::int64_t r) {
    run_langevin_replica<ThreeHoleSystem>(run, r, starts ? starts + r * ThreeHoleSystem::kDim : nullptr,
                                          out + r * per_replica);
  });
}

}  // namespace

void validate(const LangevinConfig& c) {
  LATF_REQUIRE(positive_finite(c.temperature), "Langevin temperature: expected a finite value > 0, got ",
               c.temperature);
  LATF_REQUIRE(positive_finite(c.time_step), "Langevin time_step: expected a finite value > 0, got ", c.time_step);
  LATF_REQUIRE(positive_finite(c.friction), "Langevin friction: expected a finite value > 0, got ", c.friction);
  LATF_REQUIRE(c.steps_per_frame >= 1, "Langevin steps_per_frame: expected >= 1, got ", c.steps_per_frame);
  LATF_REQUIRE(c.frames >= 1, "Langevin frames: expected >= 1, got ", c.frames);
  LATF_REQUIRE(c.equilibration_steps >= 0, "Langevin equilibration_steps: expected >= 0, got ", c.equilibration_steps);
  LATF_REQUIRE(c.replicas >= 1, "Langevin replicas: expected >= 1, got ", c.replicas);
  LATF_REQUIRE(c.threads >= 0, "Langevin threads: expected >= 0 (0 = all cores), got ", c.threads);
  if (c.initial_positions.defined()) {
    require_shape(c.initial_positions, {c.replicas, 2}, "Langevin initial_positions");
    for (float v : c.initial_positions.to_vector())
      LATF_REQUIRE(std::isfinite(v), "Langevin initial_positions: expected finite values, found ", v);
  }
}

Tensor simulate_three_hole(const LangevinConfig& config, const Device& device) {
  validate(config);
  require_usable(device);
  const LangevinRun run =
      make_langevin_run(config.temperature, config.time_step, config.friction, config.seed, kThreeHoleLangevinStreams,
                        config.equilibration_steps, config.steps_per_frame, config.frames);
  Tensor out = Tensor::empty({config.replicas, config.frames, ThreeHoleSystem::kDim}, device);
  if (device.is_cuda()) {
#if LATF_WITH_CUDA
    const Tensor starts = config.initial_positions.defined() ? config.initial_positions.to(device) : Tensor();
    simulate_three_hole_cuda(run, config.replicas, starts.defined() ? starts.data<float>() : nullptr, out);
#else
    throw BackendError("simulate_three_hole: device is CUDA but this build has no CUDA backend");
#endif
    return out;
  }
  const Tensor starts = config.initial_positions.defined() ? config.initial_positions.to(Device::cpu()) : Tensor();
  simulate_cpu(run, config.replicas, config.threads, starts.defined() ? starts.data<float>() : nullptr, out.data<float>());
  return out;
}

}  // namespace latf::systems
