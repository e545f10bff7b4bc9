#pragma once
// Langevin trajectories of the built-in three-hole system (METHOD.md §9): many independent
// replicas at once, BAOAB integration (langevin_math.hpp), reproducible from the seed alone.
#include <cstdint>

#include "engine/device.hpp"
#include "engine/tensor.hpp"

namespace latf::systems {

// Defaults, in the potential's reduced units (unit mass, kT = temperature):
// - time_step 0.01: the stiffest curvature the dynamics meets is 13.6 at the deep minima and at
//   most 34 anywhere with Boltzmann weight above e⁻¹⁵ at T = 3 (the quartic wall below the
//   wells), so ω_max·Δt ≤ 0.06, far inside Verlet's stability limit ω·Δt < 2; the deep wells'
//   period 2π/√13.6 ≈ 1.7 spans ~170 steps, and BAOAB's O(Δt²) configurational bias is
//   negligible against sampling noise (tests check the time step against the curvature).
// - friction 1: below the well frequencies (√3.8 … √13.6 ≈ 1.9–3.7), so motion inside a well
//   stays inertial while velocities decorrelate within ~1 time unit; at the saddles (unstable
//   frequencies √5.4 and √10.5) Kramers' factor √(1 + (γ/2ω_b)²) − γ/2ω_b is 0.81–0.86, i.e.
//   barrier crossings run close to the transition-state-theory rate, not slowed by friction.
// - steps_per_frame 10: a frame every 0.1 time units, ~1/17 of a well period, fine enough for
//   the short lag times SPIB uses and coarse enough not to store redundant frames.
// - equilibration_steps 1000 (10 time units): thermalises velocities and motion inside the
//   starting well; populations across wells relax on the barrier-crossing time (~10 time units
//   at T = 1, much longer at low T), so raise it for equilibrium populations from frame 0.
// `temperature` and `frames` have no sensible default: left at 0 they fail validation.
struct LangevinConfig {
  double temperature = 0.0;
  double time_step = 0.01;
  double friction = 1.0;
  std::int64_t steps_per_frame = 10;
  std::int64_t frames = 0;
  std::int64_t equilibration_steps = 1000;
  int replicas = 1;
  std::uint64_t seed = 0;
  int threads = 0;  // CPU worker threads, 0 = all cores; the result does not depend on it
  // Optional [replicas, 2] start positions (e.g. exact Boltzmann samples, so that the data are
  // at equilibrium across wells from the first frame); undefined = replica r at minimum r mod 3.
  Tensor initial_positions;
};

// Throws InvalidArgument naming the first bad field and its value.
void validate(const LangevinConfig& config);

// Positions [replicas, frames, 2] (float32) on `device`. Replica r starts at initial_positions[r]
// or, without them, at minimum r mod 3 (left, right, top) with Maxwell velocities; frame f is the position after
// equilibration_steps + (f + 1)·steps_per_frame steps. Noise of step s of replica r is Philox
// draw (seed, r, s): the result depends only on the config, never on threads or device layout.
Tensor simulate_three_hole(const LangevinConfig& config, const Device& device = Device::cpu());

}  // namespace latf::systems
