#pragma once
// One replica of underdamped Langevin dynamics, integrated by BAOAB (Leimkuhler & Matthews,
// Appl. Math. Res. Express 2013): half kick (B), half drift (A), exact Ornstein–Uhlenbeck
// velocity update (O), half drift (A), half kick (B). Unit mass, kT = temperature. Among the
// common splittings BAOAB has the smallest configurational bias (O(Δt²), with a leading term
// that vanishes for harmonic wells), which is what the data generators are used for.
//
// A `System` supplies `kDim`, `force(q, f)` and `start_position(replica, q)` as LATF_HD
// statics; the same run_langevin_replica() is the CPU loop body and the CUDA thread body.
#include <cmath>
#include <cstdint>

#include "engine/hd.hpp"
#include "engine/random.hpp"

namespace latf::systems {

struct LangevinRun {
  double half_step;      // Δt/2
  double damping;        // c₁ = e^{−γΔt}
  double kick;           // √(kT(1 − c₁²)): the O step's noise amplitude
  double thermal_speed;  // √kT: the velocity spread of the initial Maxwell draw
  std::uint64_t seed;
  std::uint64_t stream_base;  // replica r draws from stream stream_base + r
  std::int64_t equilibration_steps;
  std::int64_t steps_per_frame;
  std::int64_t frames;
};

LATF_HD LangevinRun make_langevin_run(double temperature, double time_step, double friction, std::uint64_t seed,
                                      std::uint64_t stream_base, std::int64_t equilibration_steps,
                                      std::int64_t steps_per_frame, std::int64_t frames) {
  LangevinRun run;
  run.half_step = 0.5 * time_step;
  run.damping = std::exp(-friction * time_step);
  // expm1 keeps 1 − c₁² accurate when γΔt is small.
  run.kick = std::sqrt(-temperature * std::expm1(-2.0 * friction * time_step));
  run.thermal_speed = std::sqrt(temperature);
  run.seed = seed;
  run.stream_base = stream_base;
  run.equilibration_steps = equilibration_steps;
  run.steps_per_frame = steps_per_frame;
  run.frames = frames;
  return run;
}

// Standard normals number `draw` of a replica's stream: Philox block draw·⌈D/4⌉ + b holds
// normals 4b … 4b+3, so draw k depends only on (seed, replica, k).
template <int D>
LATF_HD void langevin_normals(const LangevinRun& run, std::uint64_t replica, std::uint64_t draw, double out[D]) {
  constexpr int kBlocks = (D + 3) / 4;
  for (int b = 0; b < kBlocks; ++b) {
    const rng::Philox4 w = rng::random_words(run.seed, run.stream_base + replica, draw * kBlocks + b);
    for (int pair = 0; pair < 2 && 4 * b + 2 * pair < D; ++pair) {
      double n0, n1;
      rng::normal_pair(w.v[2 * pair], w.v[2 * pair + 1], &n0, &n1);
      out[4 * b + 2 * pair] = n0;
      if (4 * b + 2 * pair + 1 < D) out[4 * b + 2 * pair + 1] = n1;
    }
  }
}

// One BAOAB step. `f` holds the force at `q` on entry and on exit, so each step costs one
// force evaluation.
template <class System>
LATF_HD void baoab_step(const LangevinRun& run, double* q, double* p, double* f, const double* noise) {
  constexpr int D = System::kDim;
  for (int d = 0; d < D; ++d) p[d] += run.half_step * f[d];
  for (int d = 0; d < D; ++d) q[d] += run.half_step * p[d];
  for (int d = 0; d < D; ++d) p[d] = run.damping * p[d] + run.kick * noise[d];
  for (int d = 0; d < D; ++d) q[d] += run.half_step * p[d];
  System::force(q, f);
  for (int d = 0; d < D; ++d) p[d] += run.half_step * f[d];
}

// The whole trajectory of one replica: start position `start` (D values) or, when null, the
// system's default start, Maxwell velocities
// (draw 0), equilibration, then `frames` positions, one every steps_per_frame steps, written
// to out[frame·D + d]. Global step s uses draw s + 1.
template <class System>
LATF_HD void run_langevin_replica(const LangevinRun& run, std::int64_t replica, const float* start, float* out) {
  constexpr int D = System::kDim;
  double q[D], p[D], f[D], noise[D];
  if (start != nullptr) {
    for (int d = 0; d < D; ++d) q[d] = start[d];
  } else {
    System::start_position(replica, q);
  }
  langevin_normals<D>(run, replica, 0, noise);
  for (int d = 0; d < D; ++d) p[d] = run.thermal_speed * noise[d];
  System::force(q, f);
  std::uint64_t draw = 1;
  for (std::int64_t s = 0; s < run.equilibration_steps; ++s, ++draw) {
    langevin_normals<D>(run, replica, draw, noise);
    baoab_step<System>(run, q, p, f, noise);
  }
  for (std::int64_t frame = 0; frame < run.frames; ++frame) {
    for (std::int64_t s = 0; s < run.steps_per_frame; ++s, ++draw) {
      langevin_normals<D>(run, replica, draw, noise);
      baoab_step<System>(run, q, p, f, noise);
    }
    for (int d = 0; d < D; ++d) out[frame * D + d] = static_cast<float>(q[d]);
  }
}

}  // namespace latf::systems
