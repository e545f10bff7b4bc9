#include "systems/three_hole_reference.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "engine/random.hpp"

namespace latf::systems {

namespace {

// The box of the header comment; the x range must be symmetric (the grid mirrors x → −x).
constexpr double kXMin = -4.0, kXMax = 4.0, kYMin = -3.5, kYMax = 4.25, kSpacing = 0.005;
// Descent stops within this distance of a minimum. The nearest saddle is 0.75 from the top
// minimum and 1.08 from the deep ones; tests check that V is convex on a circle just outside
// each disc and that plain gradient descent from it reaches the disc's minimum.
constexpr double kCaptureRadius = 0.25;
constexpr double kDescentStep = 0.005;
constexpr std::int64_t kMaxDescentSteps = 400000;
constexpr double kFarthestPoint = 1e6;  // basin_of's domain: the walls' gradient stays finite
constexpr std::uint64_t kExactSampleStream = std::uint64_t{0x3402} << 40;

void require_temperature(double temperature, const char* caller) {
  LATF_REQUIRE(std::isfinite(temperature) && temperature > 0, caller,
               ": temperature: expected a finite value > 0, got ", temperature);
}

int captured_by(double x, double y) {
  const auto& minima = three_hole_minima();
  for (int b = 0; b < kThreeHoleBasins; ++b) {
    const double dx = x - minima[b].x, dy = y - minima[b].y;
    if (dx * dx + dy * dy < kCaptureRadius * kCaptureRadius) return b;
  }
  return -1;
}

int nearest_minimum(double x, double y) {
  const auto& minima = three_hole_minima();
  int best = 0;
  double best_d2 = INFINITY;
  for (int b = 0; b < kThreeHoleBasins; ++b) {
    const double d2 = (x - minima[b].x) * (x - minima[b].x) + (y - minima[b].y) * (y - minima[b].y);
    if (d2 < best_d2) best_d2 = d2, best = b;
  }
  return best;
}

// A midpoint step of fixed length along the steepest-descent direction −∇V/|∇V|: fixed length
// follows the descent path at a known resolution whatever |∇V| (huge on the walls, tiny near
// saddles). At an exact stationary point the tie is broken towards +x.
void descent_direction(double x, double y, double* dx, double* dy) {
  double gx, gy;
  three_hole_gradient(x, y, &gx, &gy);
  const double scale = std::abs(gx) + std::abs(gy);  // pre-scaling: no overflow far out
  if (!(scale > 1e-300)) {
    *dx = 1.0, *dy = 0.0;
    return;
  }
  gx /= scale;
  gy /= scale;
  const double inverse_norm = 1.0 / std::sqrt(gx * gx + gy * gy);
  *dx = -gx * inverse_norm, *dy = -gy * inverse_norm;
}

void descent_step(double* x, double* y, double step) {
  double dx, dy;
  descent_direction(*x, *y, &dx, &dy);
  descent_direction(*x + 0.5 * step * dx, *y + 0.5 * step * dy, &dx, &dy);
  *x += step * dx;
  *y += step * dy;
}

struct BasinGrid {
  ReferenceGrid info;
  std::vector<double> energy;      // V at cell centres, row-major [iy·nx + ix]
  std::vector<std::int8_t> basin;  // basin id per cell, −1 while unknown
  double energy_min = 0;

  double x(std::int64_t ix) const { return (static_cast<double>(ix) + 0.5 - 0.5 * info.nx) * info.spacing; }
  double y(std::int64_t iy) const { return info.y_min + (static_cast<double>(iy) + 0.5) * info.spacing; }
  std::int64_t index(std::int64_t ix, std::int64_t iy) const { return iy * info.nx + ix; }

  // The basin shared by the four cell centres around (x, y), or −1 if they are not all known
  // and equal.
  int agreed_basin(double px, double py) const {
    const double fx = (px - info.x_min) / info.spacing - 0.5, fy = (py - info.y_min) / info.spacing - 0.5;
    if (!(fx >= 0 && fy >= 0)) return -1;
    const auto ix = static_cast<std::int64_t>(fx), iy = static_cast<std::int64_t>(fy);
    if (ix + 1 >= info.nx || iy + 1 >= info.ny) return -1;
    const int b = basin[index(ix, iy)];
    if (b < 0 || basin[index(ix + 1, iy)] != b || basin[index(ix, iy + 1)] != b || basin[index(ix + 1, iy + 1)] != b)
      return -1;
    return b;
  }
};

// Descent from a cell centre, stopped as soon as it reaches cells of known basin. Cells are
// labelled in order of increasing V, so every cell of this half below the starting energy is
// known: the path needs ~2 steps; only a path running along a basin boundary goes further.
int grid_descent(const BasinGrid& grid, double x, double y, std::int64_t* unresolved) {
  const double step = grid.info.spacing;  // h/2 gives the same populations to 8 digits, 50% slower
  for (std::int64_t s = 0; s < kMaxDescentSteps; ++s) {
    const int captured = captured_by(x, y);
    if (captured >= 0) return captured;
    const int agreed = grid.agreed_basin(x, y);
    if (agreed >= 0) return agreed;
    descent_step(&x, &y, step);
  }
  ++*unresolved;
  return nearest_minimum(x, y);
}

int mirrored_basin(int b) { return b == kLeftBasin ? kRightBasin : b == kRightBasin ? kLeftBasin : b; }

// V is symmetric under x → −x, so only the x > 0 half is computed and then mirrored: the
// left and right basins get bit-identical cells and weights.
BasinGrid build_grid(double spacing) {
  BasinGrid grid;
  ReferenceGrid& info = grid.info;
  info = {kXMin, kXMax, kYMin, kYMax, spacing, std::llround((kXMax - kXMin) / spacing),
          std::llround((kYMax - kYMin) / spacing), 0};
  LATF_REQUIRE(info.nx % 2 == 0 && std::abs(info.nx * spacing - (kXMax - kXMin)) < 1e-9 * spacing &&
                   std::abs(info.ny * spacing - (kYMax - kYMin)) < 1e-9 * spacing,
               "three-hole reference grid spacing: expected a spacing that divides the box into an even number of "
               "columns, got ", spacing);
  const std::int64_t nx = info.nx, ny = info.ny, half = nx / 2;
  grid.energy.assign(static_cast<std::size_t>(nx * ny), 0.0);
  grid.basin.assign(static_cast<std::size_t>(nx * ny), std::int8_t{-1});
  std::vector<std::pair<double, std::int64_t>> order;  // (V, cell): sorted by V, ties by cell
  order.reserve(static_cast<std::size_t>(half * ny));
  for (std::int64_t iy = 0; iy < ny; ++iy)
    for (std::int64_t ix = half; ix < nx; ++ix) {
      const double v = three_hole_potential(grid.x(ix), grid.y(iy));
      grid.energy[grid.index(ix, iy)] = v;
      grid.energy[grid.index(nx - 1 - ix, iy)] = v;
      order.emplace_back(v, grid.index(ix, iy));
    }
  std::sort(order.begin(), order.end());
  grid.energy_min = order.front().first;
  for (const auto& [energy, cell] : order) {
    const std::int64_t ix = cell % nx, iy = cell / nx;
    grid.basin[cell] = static_cast<std::int8_t>(grid_descent(grid, grid.x(ix), grid.y(iy), &info.unresolved_cells));
  }
  for (std::int64_t iy = 0; iy < ny; ++iy)
    for (std::int64_t ix = 0; ix < half; ++ix)
      grid.basin[grid.index(ix, iy)] =
          static_cast<std::int8_t>(mirrored_basin(grid.basin[grid.index(nx - 1 - ix, iy)]));
  return grid;
}

const BasinGrid& cached_grid() {
  static const BasinGrid grid = build_grid(kSpacing);
  return grid;
}

// Boltzmann weights exp(−(V − V_min)/T) of every cell (the common cell area cancels).
std::vector<double> cell_weights(const BasinGrid& grid, double temperature) {
  std::vector<double> weights(grid.energy.size());
  const double beta = 1.0 / temperature;
  for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = std::exp(-(grid.energy[i] - grid.energy_min) * beta);
  return weights;
}

BasinPopulations populations_on(const BasinGrid& grid, double temperature) {
  const std::vector<double> weights = cell_weights(grid, temperature);
  double sums[kThreeHoleBasins] = {0, 0, 0};
  for (std::size_t i = 0; i < weights.size(); ++i) sums[grid.basin[i]] += weights[i];
  const double total = sums[0] + sums[1] + sums[2];
  return {sums[kLeftBasin] / total, sums[kRightBasin] / total, sums[kTopBasin] / total};
}

}  // namespace

StationaryPoint refine_stationary_point(double x, double y) {
  LATF_REQUIRE(std::isfinite(x) && std::isfinite(y), "refine_stationary_point: start: expected finite, got (", x,
               ", ", y, ")");
  for (int iteration = 0; iteration < 100; ++iteration) {
    double gx, gy, hxx, hxy, hyy;
    three_hole_gradient(x, y, &gx, &gy);
    three_hole_hessian(x, y, &hxx, &hxy, &hyy);
    const double det = hxx * hyy - hxy * hxy;
    if (std::abs(det) < 1e-12) break;
    const double dx = (hyy * gx - hxy * gy) / det, dy = (hxx * gy - hxy * gx) / det;
    x -= dx;
    y -= dy;
    if (std::hypot(dx, dy) < 1e-14) return {x, y, three_hole_potential(x, y)};
  }
  double gx, gy;
  three_hole_gradient(x, y, &gx, &gy);
  if (std::hypot(gx, gy) < 1e-10) return {x, y, three_hole_potential(x, y)};
  throw std::runtime_error(concat("refine_stationary_point: Newton's method did not converge, ended at (", x, ", ",
                                  y, ") with |grad V| = ", std::hypot(gx, gy)));
}

const std::array<StationaryPoint, kThreeHoleBasins>& three_hole_minima() {
  static const std::array<StationaryPoint, kThreeHoleBasins> minima = [] {
    std::array<StationaryPoint, kThreeHoleBasins> found{};
    for (int b = 0; b < kThreeHoleBasins; ++b) {
      double x, y;
      three_hole_minimum_guess(b, &x, &y);
      found[b] = refine_stationary_point(x, y);
    }
    return found;
  }();
  return minima;
}

int basin_of(double x, double y) {
  LATF_REQUIRE(std::abs(x) <= kFarthestPoint && std::abs(y) <= kFarthestPoint,
               "basin_of: point: expected |x|, |y| <= ", kFarthestPoint, ", got (", x, ", ", y, ")");
  for (std::int64_t s = 0; s < kMaxDescentSteps; ++s) {
    const int captured = captured_by(x, y);
    if (captured >= 0) return captured;
    // Far out the walls make the flow nearly radial and smooth on the scale of the distance, so
    // the step may grow with it (1/1000 of the distance beyond r = 5).
    descent_step(&x, &y, std::max(kDescentStep, 1e-3 * std::sqrt(x * x + y * y)));
  }
  throw std::runtime_error(concat("basin_of: steepest descent reached no minimum, ended at (", x, ", ", y, ")"));
}

int grid_basin_of(double x, double y) {
  LATF_REQUIRE(std::isfinite(x) && std::isfinite(y), "grid_basin_of: point: expected finite, got (", x, ", ", y,
               ")");
  const BasinGrid& grid = cached_grid();
  const double fx = std::floor((x - grid.info.x_min) / grid.info.spacing);
  const double fy = std::floor((y - grid.info.y_min) / grid.info.spacing);
  if (fx < 0 || fy < 0 || fx >= static_cast<double>(grid.info.nx) || fy >= static_cast<double>(grid.info.ny))
    return basin_of(x, y);
  return grid.basin[grid.index(static_cast<std::int64_t>(fx), static_cast<std::int64_t>(fy))];
}

BasinPopulations exact_basin_populations(double temperature) {
  require_temperature(temperature, "exact_basin_populations");
  return populations_on(cached_grid(), temperature);
}

double free_energy_difference(double temperature, int from_basin, int to_basin) {
  require_temperature(temperature, "free_energy_difference");
  LATF_REQUIRE(from_basin >= 0 && from_basin < kThreeHoleBasins,
               "free_energy_difference: from_basin: expected 0, 1 or 2, got ", from_basin);
  LATF_REQUIRE(to_basin >= 0 && to_basin < kThreeHoleBasins,
               "free_energy_difference: to_basin: expected 0, 1 or 2, got ", to_basin);
  const BasinPopulations p = exact_basin_populations(temperature);
  return -temperature * std::log(p[to_basin] / p[from_basin]);
}

double boundary_mass(double temperature) {
  require_temperature(temperature, "boundary_mass");
  const BasinGrid& grid = cached_grid();
  const std::vector<double> weights = cell_weights(grid, temperature);
  const std::int64_t nx = grid.info.nx, ny = grid.info.ny;
  double ring = 0;
  for (std::int64_t iy = 0; iy < ny; ++iy)
    for (std::int64_t ix = 0; ix < nx; ++ix)
      if (ix == 0 || iy == 0 || ix == nx - 1 || iy == ny - 1) ring += weights[grid.index(ix, iy)];
  return ring / std::accumulate(weights.begin(), weights.end(), 0.0);
}

Tensor exact_samples(double temperature, std::int64_t n, std::uint64_t seed) {
  require_temperature(temperature, "exact_samples");
  LATF_REQUIRE(n >= 1, "exact_samples: n: expected >= 1, got ", n);
  const BasinGrid& grid = cached_grid();
  std::vector<double> cumulative = cell_weights(grid, temperature);
  std::partial_sum(cumulative.begin(), cumulative.end(), cumulative.begin());
  const double total = cumulative.back();
  Tensor out = Tensor::empty({n, 2});
  float* xy = out.data<float>();
  const double h = grid.info.spacing;
  for (std::int64_t i = 0; i < n; ++i) {
    const rng::Philox4 w = rng::random_words(seed, kExactSampleStream, static_cast<std::uint64_t>(i));
    // 53 random bits for the cell, so that cells far below 2⁻³² of the mass are still drawn.
    const std::uint64_t bits = ((std::uint64_t{w.v[0]} << 32) | w.v[1]) >> 11;
    const double u = (static_cast<double>(bits) + 0.5) * 0x1p-53;
    const auto cell = std::min<std::int64_t>(
        std::upper_bound(cumulative.begin(), cumulative.end(), u * total) - cumulative.begin(),
        static_cast<std::int64_t>(cumulative.size()) - 1);
    const std::int64_t ix = cell % grid.info.nx, iy = cell / grid.info.nx;
    xy[2 * i] = static_cast<float>(grid.x(ix) + (rng::uniform_open(w.v[2]) - 0.5) * h);
    xy[2 * i + 1] = static_cast<float>(grid.y(iy) + (rng::uniform_open(w.v[3]) - 0.5) * h);
  }
  return out;
}

const ReferenceGrid& reference_grid() { return cached_grid().info; }

namespace detail {
BasinPopulations basin_populations_with_spacing(double temperature, double spacing) {
  require_temperature(temperature, "basin_populations_with_spacing");
  LATF_REQUIRE(std::isfinite(spacing) && spacing > 0, "basin_populations_with_spacing: spacing: expected > 0, got ",
               spacing);
  return populations_on(build_grid(spacing), temperature);
}
}  // namespace detail

}  // namespace latf::systems
