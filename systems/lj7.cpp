#include "systems/lj7.hpp"

#include "systems/replica_threads.hpp"

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

#include "engine/error.hpp"
#include "systems/langevin_math.hpp"
#include "systems/lj7_math.hpp"

namespace latf::systems {

#if LATF_WITH_CUDA
void simulate_lj7_cuda(const LangevinRun& run, std::int64_t replicas, Lj7Trajectories& out);
#endif

namespace {

// Separates the LJ7 noise from other users of the same seed (the three-hole system and so on).
constexpr std::uint64_t kLj7LangevinStreams = std::uint64_t{0x1707} << 40;


void simulate_cpu(const LangevinRun& run, std::int64_t replicas, int threads, Lj7Trajectories& out) {
  float* positions = out.positions.data<float>();
  float* descriptors = out.descriptors.data<float>();
  float* order = out.order_parameters.data<float>();
  for_each_replica(replicas, threads, [&](std::int64_t r) {
    run_lj7_replica(run, r, positions + r * run.frames * kLj7Dim, descriptors + r * run.frames * kLj7Atoms,
                    order + r * run.frames * 2);
  });
}

}  // namespace

void validate(const Lj7Config& c) {
  LATF_REQUIRE(positive_finite(c.temperature), "LJ7 temperature: expected a finite value > 0, got ", c.temperature);
  LATF_REQUIRE(positive_finite(c.time_step), "LJ7 time_step: expected a finite value > 0, got ", c.time_step);
  LATF_REQUIRE(positive_finite(c.friction), "LJ7 friction: expected a finite value > 0, got ", c.friction);
  LATF_REQUIRE(c.steps_per_frame >= 1, "LJ7 steps_per_frame: expected >= 1, got ", c.steps_per_frame);
  LATF_REQUIRE(c.frames >= 1, "LJ7 frames: expected >= 1, got ", c.frames);
  LATF_REQUIRE(c.equilibration_steps >= 0, "LJ7 equilibration_steps: expected >= 0, got ", c.equilibration_steps);
  LATF_REQUIRE(c.replicas >= 1, "LJ7 replicas: expected >= 1, got ", c.replicas);
  LATF_REQUIRE(c.threads >= 0, "LJ7 threads: expected >= 0 (0 = all cores), got ", c.threads);
}

Lj7Trajectories simulate_lj7(const Lj7Config& config, const Device& device) {
  validate(config);
  require_usable(device);
  const LangevinRun run =
      make_langevin_run(config.temperature, config.time_step, config.friction, config.seed, kLj7LangevinStreams,
                        config.equilibration_steps, config.steps_per_frame, config.frames);
  Lj7Trajectories out;
  out.positions = Tensor::empty({config.replicas, config.frames, kLj7Dim}, device);
  out.descriptors = Tensor::empty({config.replicas, config.frames, kLj7Atoms}, device);
  out.order_parameters = Tensor::empty({config.replicas, config.frames, 2}, device);
  if (device.is_cuda()) {
#if LATF_WITH_CUDA
    simulate_lj7_cuda(run, config.replicas, out);
#else
    throw BackendError("simulate_lj7: device is CUDA but this build has no CUDA backend");
#endif
    return out;
  }
  simulate_cpu(run, config.replicas, config.threads, out);
  return out;
}

void lj7_descriptors(const float* positions14, float* c7, float* mu23) {
  LATF_REQUIRE(positions14 != nullptr && c7 != nullptr && mu23 != nullptr,
               "lj7_descriptors: expected non-null positions14, c7 and mu23");
  lj7_descriptors_of(positions14, c7, mu23);
}

}  // namespace latf::systems
