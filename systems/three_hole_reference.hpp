#pragma once
// Exact equilibrium of the three-hole system, the ground truth for temperature extrapolation
// (METHOD.md §9). Being 2-D, the Boltzmann density ∝ exp(−V/T) is integrated on a grid:
//   x ∈ [−4, 4], y ∈ [−3.5, 4.25], spacing h = 0.005, one point at the centre of each cell
//   (1600 × 1550 cells). The box is wider than the wells need so that the quartic walls cut
//   the mass off: at T = 3 the outermost ring of cells holds < 1e-9 of it (boundary_mass); at
//   the ~[−2.5, 2.5] × [−2, 3] box of the plots about 1% would be lost at T = 3. The loss
//   grows with T (outside mass ~5e-7 at T = 4); boundary_mass tracks it. The density is
//   smooth and vanishes at the box, so the midpoint sum converges fast; what is left comes
//   from cells cut by a basin boundary: an h = 0.01 grid agrees to < 1e-5 (tested to 2e-5).
//   Below T ≈ 0.01 a well's width √(T/V″) shrinks to a few cells and the grid gets coarse.
// Basins: each cell belongs to the minimum that steepest descent on V from its centre reaches.
#include <array>
#include <cstdint>

#include "engine/tensor.hpp"
#include "systems/three_hole_math.hpp"

namespace latf::systems {

struct StationaryPoint {
  double x, y, energy;
};

// Newton's method on ∇V = 0 from (x, y) (analytic Hessian); throws if it does not converge.
StationaryPoint refine_stationary_point(double x, double y);
// The three minima, indexed by basin id (kLeftBasin, kRightBasin, kTopBasin).
const std::array<StationaryPoint, kThreeHoleBasins>& three_hole_minima();

// Basin id of (x, y): steepest descent on V until within the capture radius of a minimum.
int basin_of(double x, double y);

// Basin id of the grid cell that holds (x, y), from the cached basin map: O(1), and the same
// assignment the quadrature uses, so trajectory frames classified with it are compared with
// exact_basin_populations on equal terms. Points outside the box fall back to basin_of.
int grid_basin_of(double x, double y);

struct BasinPopulations {
  double left, right, top;
  double operator[](int basin) const { return basin == kLeftBasin ? left : basin == kRightBasin ? right : top; }
};
BasinPopulations exact_basin_populations(double temperature);
// F_to − F_from = −T·ln(P_to / P_from): the free energy of basin `to` relative to `from`.
double free_energy_difference(double temperature, int from_basin, int to_basin);
// Fraction of the grid's Boltzmann mass in its outermost ring of cells: an upper bound on the
// mass the box misses is a small multiple of it (the walls decay on a length ≪ the box margin).
double boundary_mass(double temperature);

// n points [n, 2] (float32, CPU) drawn exactly from the grid distribution: a cell by its
// Boltzmann weight, then a uniform point inside it. Reproducible from (seed); independent of
// the Langevin noise drawn from the same seed.
Tensor exact_samples(double temperature, std::int64_t n, std::uint64_t seed);

struct ReferenceGrid {
  double x_min, x_max, y_min, y_max, spacing;
  std::int64_t nx, ny;
  std::int64_t unresolved_cells;  // cells whose descent hit the step limit (expected 0)
};
// The cached grid of the functions above (built on first use, ~1 s).
const ReferenceGrid& reference_grid();

namespace detail {
// Populations on a fresh grid of another spacing over the same box (convergence tests).
BasinPopulations basin_populations_with_spacing(double temperature, double spacing);
}  // namespace detail

}  // namespace latf::systems
