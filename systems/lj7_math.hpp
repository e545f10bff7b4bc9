#pragma once
// The 2-D LJ7 cluster (METHOD.md §9): seven unit-mass atoms in the plane, Lennard-Jones with
// ε = σ = 1, plus a soft wall that keeps the cluster together, and its descriptors. Positions
// are 14 numbers (x₀, y₀, x₁, y₁, …). One definition serves the CPU loop and the CUDA kernel.
//
// Pair potential: V(r) = 4(r⁻¹² − r⁻⁶) − V_LJ(r_c) for r < r_c = 2.5, 0 beyond. The shift
// makes V continuous at the cut-off (an energy jump there would make the dynamics' energy
// ill-defined); the force keeps its small jump of |V'(r_c)| ≈ 0.039, which is negligible next
// to kT ≥ 0.1 per σ and is the common convention. Forces inside r_c are the unshifted ones, so
// minima and their geometry are those of the plain cut LJ7; only energies move, by V_LJ(r_c)
// per pair inside the cut-off (≈ +0.343 for the hexagon's 21 pairs).
//
// Wall: each atom whose distance d_i from the centre of mass exceeds r_w = 2.0 feels
// k/2·(d_i − r_w)² with k = 100. The four low-lying isomers have every atom within 1.73 of the
// centre of mass (tested < 1.9), so the wall is zero there and leaves the isomers and their
// energies untouched at the low temperatures (T ≤ 0.5) the method studies. At T = 0.7 the
// cluster is liquid and evaporates without it; with it an atom sits past r_w in ~40 % of
// the frames but never more than ~0.3 beyond (tested: < 0.5 over 200 000 steps), since
// climbing 0.3 into the wall costs 4.5 ≈ 6kT. Its stiffness (ω = 10 for one atom) is below
// the LJ repulsion's (ω ≈ 16–45 in the thermal range), so the time step resolves it. Measured
// from the centre of mass, the wall acts on the cluster's shape only: its forces sum to zero,
// so the centre of mass diffuses freely under the Langevin noise, as a free cluster's would.
#include <cmath>
#include <cstdint>

#include "engine/hd.hpp"
#include "systems/langevin_math.hpp"

namespace latf::systems {

inline constexpr int kLj7Atoms = 7;
inline constexpr int kLj7Dim = 2 * kLj7Atoms;
inline constexpr double kLj7Cutoff = 2.5;
inline constexpr double kLj7WallRadius = 2.0;
inline constexpr double kLj7WallStiffness = 100.0;
inline constexpr double kLj7CoordinationRadius = 1.5;  // r₀ of the switching function
// Nearest-neighbour distance of the relaxed hexagon-plus-centre, the minimum of
// E(a) = 12V(a) + 6V(√3a) + 3V(2a) (bisection on E'(a) to machine precision; tested).
inline constexpr double kLj7HexagonSpacing = 1.118460063940013;

// Unshifted 4(r⁻¹² − r⁻⁶) from r², and −(1/r)·dV/dr, the factor that turns a separation
// vector into a force.
LATF_HD double lj_bare(double r2) {
  const double s6 = 1.0 / (r2 * r2 * r2);
  return 4.0 * (s6 * s6 - s6);
}
LATF_HD double lj_force_over_r(double r2) {
  const double s2 = 1.0 / r2, s6 = s2 * s2 * s2;
  return 24.0 * s2 * s6 * (2.0 * s6 - 1.0);
}

LATF_HD double lj7_pair_potential(double r2) {
  if (r2 >= kLj7Cutoff * kLj7Cutoff) return 0.0;
  return lj_bare(r2) - lj_bare(kLj7Cutoff * kLj7Cutoff);
}

LATF_HD void lj7_center_of_mass(const double* q, double* cx, double* cy) {
  double sx = 0.0, sy = 0.0;
  for (int i = 0; i < kLj7Atoms; ++i) sx += q[2 * i], sy += q[2 * i + 1];
  *cx = sx / kLj7Atoms;
  *cy = sy / kLj7Atoms;
}

// Total energy: shifted LJ over pairs, plus the wall when `wall` is set.
LATF_HD double lj7_potential(const double* q, bool wall = true) {
  double v = 0.0;
  for (int i = 0; i < kLj7Atoms; ++i)
    for (int j = i + 1; j < kLj7Atoms; ++j) {
      const double dx = q[2 * i] - q[2 * j], dy = q[2 * i + 1] - q[2 * j + 1];
      v += lj7_pair_potential(dx * dx + dy * dy);
    }
  if (!wall) return v;
  double cx, cy;
  lj7_center_of_mass(q, &cx, &cy);
  for (int i = 0; i < kLj7Atoms; ++i) {
    const double d = std::sqrt((q[2 * i] - cx) * (q[2 * i] - cx) + (q[2 * i + 1] - cy) * (q[2 * i + 1] - cy));
    if (d > kLj7WallRadius) v += 0.5 * kLj7WallStiffness * (d - kLj7WallRadius) * (d - kLj7WallRadius);
  }
  return v;
}

// f = −∇V. The wall term of atom i pushes atom i inward by k(d_i − r_w) along its direction
// from the centre of mass, and, through the centre of mass, every atom by −1/7 of that.
LATF_HD void lj7_force(const double* q, double* f, bool wall = true) {
  for (int d = 0; d < kLj7Dim; ++d) f[d] = 0.0;
  for (int i = 0; i < kLj7Atoms; ++i)
    for (int j = i + 1; j < kLj7Atoms; ++j) {
      const double dx = q[2 * i] - q[2 * j], dy = q[2 * i + 1] - q[2 * j + 1];
      const double r2 = dx * dx + dy * dy;
      if (r2 >= kLj7Cutoff * kLj7Cutoff) continue;
      const double s = lj_force_over_r(r2);
      f[2 * i] += s * dx, f[2 * i + 1] += s * dy;
      f[2 * j] -= s * dx, f[2 * j + 1] -= s * dy;
    }
  if (!wall) return;
  double cx, cy;
  lj7_center_of_mass(q, &cx, &cy);
  double pull_x = 0.0, pull_y = 0.0;  // Σ of the wall forces, handed back through the centre of mass
  for (int i = 0; i < kLj7Atoms; ++i) {
    const double ux = q[2 * i] - cx, uy = q[2 * i + 1] - cy;
    const double d = std::sqrt(ux * ux + uy * uy);
    if (d <= kLj7WallRadius) continue;
    const double s = kLj7WallStiffness * (d - kLj7WallRadius) / d;
    f[2 * i] -= s * ux, f[2 * i + 1] -= s * uy;
    pull_x += s * ux, pull_y += s * uy;
  }
  for (int i = 0; i < kLj7Atoms; ++i) f[2 * i] += pull_x / kLj7Atoms, f[2 * i + 1] += pull_y / kLj7Atoms;
}

// Atom 0 at the origin, atoms 1…6 on the hexagon at angles 60°·k: the 2-D LJ7 ground state.
LATF_HD void lj7_hexagon(double* q) {
  q[0] = q[1] = 0.0;
  for (int k = 0; k < 6; ++k) {
    const double angle = k * (M_PI / 3.0);
    q[2 + 2 * k] = kLj7HexagonSpacing * std::cos(angle);
    q[3 + 2 * k] = kLj7HexagonSpacing * std::sin(angle);
  }
}

// Switching function (1 − x⁸)/(1 − x¹⁶) with x = r/r₀. Since 1 − x¹⁶ = (1 − x⁸)(1 + x⁸) it is
// 1/(1 + x⁸) everywhere, which also takes the removable singularity at r = r₀ to its limit 1/2
// and needs no square root.
LATF_HD double lj7_switch(double r2) {
  const double x2 = r2 / (kLj7CoordinationRadius * kLj7CoordinationRadius);
  const double x4 = x2 * x2;
  return 1.0 / (1.0 + x4 * x4);
}

// Coordination numbers c_i = Σ_{j≠i} s(r_ij), sorted ascending (so the descriptor is invariant
// under relabelling the atoms), and the population central moments
// μ2 = (1/7)Σ(c_i − c̄)², μ3 = (1/7)Σ(c_i − c̄)³. Double arithmetic on float positions.
LATF_HD void lj7_descriptors_of(const float* q, float* c7, float* mu23) {
  double c[kLj7Atoms];
  for (int i = 0; i < kLj7Atoms; ++i) c[i] = 0.0;
  for (int i = 0; i < kLj7Atoms; ++i)
    for (int j = i + 1; j < kLj7Atoms; ++j) {
      const double dx = double(q[2 * i]) - q[2 * j], dy = double(q[2 * i + 1]) - q[2 * j + 1];
      const double s = lj7_switch(dx * dx + dy * dy);
      c[i] += s;
      c[j] += s;
    }
  for (int i = 1; i < kLj7Atoms; ++i)  // insertion sort: seven values
    for (int j = i; j > 0 && c[j - 1] > c[j]; --j) {
      const double t = c[j];
      c[j] = c[j - 1];
      c[j - 1] = t;
    }
  double mean = 0.0;
  for (int i = 0; i < kLj7Atoms; ++i) mean += c[i] / kLj7Atoms;
  double m2 = 0.0, m3 = 0.0;
  for (int i = 0; i < kLj7Atoms; ++i) {
    const double e = c[i] - mean;
    m2 += e * e / kLj7Atoms;
    m3 += e * e * e / kLj7Atoms;
  }
  for (int i = 0; i < kLj7Atoms; ++i) c7[i] = static_cast<float>(c[i]);
  mu23[0] = static_cast<float>(m2);
  mu23[1] = static_cast<float>(m3);
}

// The system as the Langevin integrator sees it (langevin_math.hpp): every replica starts
// from the hexagon; the replicas differ by their Maxwell velocities and noise.
struct Lj7System {
  static constexpr int kDim = kLj7Dim;
  static LATF_HD void force(const double* q, double* f) { lj7_force(q, f, true); }
  static LATF_HD void start_position(std::int64_t, double* q) { lj7_hexagon(q); }
};

// One replica end to end, the CPU loop body and the CUDA thread body: its frames' positions
// (frames·14), then their descriptors (frames·7) and order parameters (frames·2) computed
// from the stored float positions, so that lj7_descriptors() on the output reproduces them.
LATF_HD void run_lj7_replica(const LangevinRun& run, std::int64_t replica, float* positions, float* descriptors,
                             float* order_parameters) {
  run_langevin_replica<Lj7System>(run, replica, nullptr, positions);
  for (std::int64_t frame = 0; frame < run.frames; ++frame)
    lj7_descriptors_of(positions + frame * kLj7Dim, descriptors + frame * kLj7Atoms, order_parameters + frame * 2);
}

}  // namespace latf::systems
