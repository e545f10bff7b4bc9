#pragma once
// Langevin trajectories of the built-in 2-D LJ7 cluster (METHOD.md §9; potential, wall and
// descriptors in lj7_math.hpp): many independent replicas at once, BAOAB integration
// (langevin_math.hpp), reproducible from the seed alone, with the coordination-number
// descriptors and the (μ2, μ3) order parameters of every frame.
#include <cstdint>

#include "engine/device.hpp"
#include "engine/tensor.hpp"

namespace latf::systems {

// Defaults, in LJ reduced units (ε = σ = m = 1, kT = temperature):
// - time_step 0.005: the LJ curvature is V'' = 57 at the pair minimum, so the stiffest normal
//   mode of the hexagon has ω ≈ 16 (tested: ω_max·Δt = 0.08), ~78 steps per period; thermal
//   compression at T = 0.7 to r ≈ 0.95 (≈ 4kT up the repulsion) raises a pair's curvature to
//   ~1000, ω ≈ 45, ωΔt ≈ 0.23, still far inside Verlet's stability limit ωΔt < 2 and accurate.
// - friction 1: velocities decorrelate within ~1 time unit while the stiff bond vibrations
//   (ω up to 16) stay underdamped; a conventional value, not tuned to any rate.
// - steps_per_frame 100: a frame every 0.5 time units, longer than a stiff bond's period
//   (2π/16 ≈ 0.4) and half a velocity relaxation time, so frames are not redundant while
//   isomerisations (rare events at T ≤ 0.5) are still resolved frame by frame.
// - equilibration_steps 2000 (10 time units, ten velocity relaxation times) from the hexagon.
// `temperature` and `frames` have no sensible default: left at 0 they fail validation.
struct Lj7Config {
  double temperature = 0.0;
  double time_step = 0.005;
  double friction = 1.0;
  std::int64_t steps_per_frame = 100;
  std::int64_t frames = 0;
  std::int64_t equilibration_steps = 2000;
  int replicas = 1;
  std::uint64_t seed = 0;
  int threads = 0;  // CPU worker threads, 0 = all cores; the result does not depend on it
};

// All float32 on the simulation's device.
struct Lj7Trajectories {
  Tensor positions;         // [R, F, 14]: x₀, y₀, …, x₆, y₆ (the centre of mass diffuses freely)
  Tensor descriptors;       // [R, F, 7]: coordination numbers, sorted ascending
  Tensor order_parameters;  // [R, F, 2]: μ2, μ3 of the coordination numbers
};

// Throws InvalidArgument naming the first bad field and its value.
void validate(const Lj7Config& config);

// Replica r starts from the hexagon-plus-centre minimum with Maxwell velocities; frame f is
// the state after equilibration_steps + (f + 1)·steps_per_frame steps. The noise of step s of
// replica r is Philox draw (seed, r, s): the result depends only on the config, never on the
// number of threads or on how many replicas run beside it.
Lj7Trajectories simulate_lj7(const Lj7Config& config, const Device& device = Device::cpu());

// Descriptors of one configuration (14 floats): sorted coordination numbers into c7[7],
// (μ2, μ3) into mu23[2]. The same function simulate_lj7 applies to its frames.
void lj7_descriptors(const float* positions14, float* c7, float* mu23);

}  // namespace latf::systems
