#pragma once
// The three-hole potential (METHOD.md §9, reduced units) with its gradient and Hessian:
//   V(x,y) = 3e^{−x²−(y−1/3)²} − 3e^{−x²−(y−5/3)²} − 5e^{−(x−1)²−y²} − 5e^{−(x+1)²−y²}
//            + 0.2x⁴ + 0.2(y−1/3)⁴.
// Two deep wells near (±1.05, −0.04) and a shallower one near (0, 1.535); the quartic walls
// confine everything. One definition serves the CPU integrator, the CUDA kernel and the
// quadrature reference. Double precision throughout: the integrator's state is double on
// both backends, so that long trajectories stay close across backends.
#include <cmath>
#include <cstdint>

#include "engine/hd.hpp"

namespace latf::systems {

// One Gaussian term a·exp(−(x−cx)²−(y−cy)²) of V.
struct ThreeHoleGaussian {
  double amplitude, cx, cy;
};

inline constexpr int kThreeHoleGaussians = 4;
inline constexpr double kThreeHoleWall = 0.2;  // coefficient of the quartic walls
inline constexpr double kThreeHoleWallCenterY = 1.0 / 3.0;

LATF_HD ThreeHoleGaussian three_hole_gaussian(int term) {
  switch (term) {
    case 0: return {3.0, 0.0, 1.0 / 3.0};
    case 1: return {-3.0, 0.0, 5.0 / 3.0};
    case 2: return {-5.0, 1.0, 0.0};
    default: return {-5.0, -1.0, 0.0};
  }
}

LATF_HD double three_hole_potential(double x, double y) {
  double v = 0.0;
  for (int term = 0; term < kThreeHoleGaussians; ++term) {
    const ThreeHoleGaussian g = three_hole_gaussian(term);
    const double dx = x - g.cx, dy = y - g.cy;
    v += g.amplitude * std::exp(-dx * dx - dy * dy);
  }
  const double wy = y - kThreeHoleWallCenterY;
  return v + kThreeHoleWall * (x * x * x * x + wy * wy * wy * wy);
}

// ∇V at (x, y); the force is its negative.
LATF_HD void three_hole_gradient(double x, double y, double* gx, double* gy) {
  const double wy = y - kThreeHoleWallCenterY;
  double sx = 4.0 * kThreeHoleWall * x * x * x, sy = 4.0 * kThreeHoleWall * wy * wy * wy;
  for (int term = 0; term < kThreeHoleGaussians; ++term) {
    const ThreeHoleGaussian g = three_hole_gaussian(term);
    const double dx = x - g.cx, dy = y - g.cy;
    const double e = g.amplitude * std::exp(-dx * dx - dy * dy);
    sx -= 2.0 * dx * e;
    sy -= 2.0 * dy * e;
  }
  *gx = sx;
  *gy = sy;
}

// Hessian entries (∂xx, ∂xy, ∂yy) of V, for Newton refinement of stationary points and the
// stability bound of the time step.
LATF_HD void three_hole_hessian(double x, double y, double* hxx, double* hxy, double* hyy) {
  const double wy = y - kThreeHoleWallCenterY;
  double sxx = 12.0 * kThreeHoleWall * x * x, syy = 12.0 * kThreeHoleWall * wy * wy, sxy = 0.0;
  for (int term = 0; term < kThreeHoleGaussians; ++term) {
    const ThreeHoleGaussian g = three_hole_gaussian(term);
    const double dx = x - g.cx, dy = y - g.cy;
    const double e = g.amplitude * std::exp(-dx * dx - dy * dy);
    sxx += (4.0 * dx * dx - 2.0) * e;
    syy += (4.0 * dy * dy - 2.0) * e;
    sxy += 4.0 * dx * dy * e;
  }
  *hxx = sxx;
  *hxy = sxy;
  *hyy = syy;
}

// Basin ids, in the order used everywhere (populations, start positions, labels).
inline constexpr int kLeftBasin = 0, kRightBasin = 1, kTopBasin = 2, kThreeHoleBasins = 3;

// The three minima to three digits (left, right, top): start positions of the Langevin replicas
// and starting guesses of the Newton refinement in three_hole_reference.
LATF_HD void three_hole_minimum_guess(int basin, double* x, double* y) {
  *x = basin == kLeftBasin ? -1.048 : basin == kRightBasin ? 1.048 : 0.0;
  *y = basin == kTopBasin ? 1.537 : -0.042;
}

// The system as the Langevin integrator sees it (langevin_math.hpp): replica r starts in
// minimum r mod 3, so any number of replicas covers the wells evenly.
struct ThreeHoleSystem {
  static constexpr int kDim = 2;
  static LATF_HD void force(const double* q, double* f) {
    three_hole_gradient(q[0], q[1], &f[0], &f[1]);
    f[0] = -f[0];
    f[1] = -f[1];
  }
  static LATF_HD void start_position(std::int64_t replica, double* q) {
    three_hole_minimum_guess(static_cast<int>(replica % kThreeHoleBasins), &q[0], &q[1]);
  }
};

}  // namespace latf::systems
