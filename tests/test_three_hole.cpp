#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "engine/error.hpp"
#include "engine/random.hpp"
#include "systems/langevin.hpp"
#include "systems/three_hole_math.hpp"
#include "systems/three_hole_reference.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using namespace systems;

// METHOD.md §9, written out independently of the library's table of Gaussians.
double potential_reference(double x, double y) {
  return 3 * std::exp(-x * x - (y - 1.0 / 3) * (y - 1.0 / 3)) - 3 * std::exp(-x * x - (y - 5.0 / 3) * (y - 5.0 / 3)) -
         5 * std::exp(-(x - 1) * (x - 1) - y * y) - 5 * std::exp(-(x + 1) * (x + 1) - y * y) + 0.2 * std::pow(x, 4) +
         0.2 * std::pow(y - 1.0 / 3, 4);
}

// Test points: a lattice over the wells and walls plus a few far out.
std::vector<std::pair<double, double>> probe_points() {
  std::vector<std::pair<double, double>> points;
  for (double x = -2.45; x < 2.5; x += 0.35)
    for (double y = -1.95; y < 3.0; y += 0.35) points.emplace_back(x, y);
  points.insert(points.end(), {{0.0, 0.0}, {3.9, -3.4}, {-3.7, 4.2}, {1.048, -0.042}});
  return points;
}

double largest_hessian_eigenvalue(double x, double y) {
  double a, b, c;
  three_hole_hessian(x, y, &a, &b, &c);
  return 0.5 * (a + c) + std::sqrt(0.25 * (a - c) * (a - c) + b * b);
}

double smallest_hessian_eigenvalue(double x, double y) {
  double a, b, c;
  three_hole_hessian(x, y, &a, &b, &c);
  return 0.5 * (a + c) - std::sqrt(0.25 * (a - c) * (a - c) + b * b);
}

// ---------------------------------------------------------------- potential

TEST(ThreeHolePotential, MatchesTheFormula) {
  for (const auto& [x, y] : probe_points())
    EXPECT_NEAR(three_hole_potential(x, y), potential_reference(x, y),
                1e-12 * std::max(1.0, std::abs(potential_reference(x, y))))
        << "at (" << x << ", " << y << ")";
}

TEST(ThreeHolePotential, GradientAndHessianMatchFiniteDifferences) {
  const double h = 1e-5;
  for (const auto& [x, y] : probe_points()) {
    double gx, gy, hxx, hxy, hyy;
    three_hole_gradient(x, y, &gx, &gy);
    three_hole_hessian(x, y, &hxx, &hxy, &hyy);
    const double fd_gx = (potential_reference(x + h, y) - potential_reference(x - h, y)) / (2 * h);
    const double fd_gy = (potential_reference(x, y + h) - potential_reference(x, y - h)) / (2 * h);
    const double scale = std::max(1.0, std::hypot(fd_gx, fd_gy));
    EXPECT_NEAR(gx, fd_gx, 1e-7 * scale) << "dV/dx at (" << x << ", " << y << ")";
    EXPECT_NEAR(gy, fd_gy, 1e-7 * scale) << "dV/dy at (" << x << ", " << y << ")";
    double gxp, gyp, gxm, gym;
    three_hole_gradient(x + h, y, &gxp, &gyp);
    three_hole_gradient(x - h, y, &gxm, &gym);
    const double hscale = std::max(1.0, std::abs(hxx) + std::abs(hyy));
    EXPECT_NEAR(hxx, (gxp - gxm) / (2 * h), 1e-6 * hscale) << "at (" << x << ", " << y << ")";
    EXPECT_NEAR(hxy, (gyp - gym) / (2 * h), 1e-6 * hscale) << "at (" << x << ", " << y << ")";
    three_hole_gradient(x, y + h, &gxp, &gyp);
    three_hole_gradient(x, y - h, &gxm, &gym);
    EXPECT_NEAR(hyy, (gyp - gym) / (2 * h), 1e-6 * hscale) << "at (" << x << ", " << y << ")";
  }
}

TEST(ThreeHolePotential, ForceIsMinusGradient) {
  const double q[2] = {0.3, -0.7};
  double f[2], gx, gy;
  ThreeHoleSystem::force(q, f);
  three_hole_gradient(q[0], q[1], &gx, &gy);
  EXPECT_EQ(f[0], -gx);
  EXPECT_EQ(f[1], -gy);
}

TEST(ThreeHolePotential, MinimaMatchMethod) {
  const auto& minima = three_hole_minima();
  // METHOD.md: (±1.05, −0.04) with V ≈ −3.995, and (0, 1.535) with V ≈ −2.172.
  EXPECT_NEAR(minima[kLeftBasin].x, -1.05, 0.005);
  EXPECT_NEAR(minima[kRightBasin].x, 1.05, 0.005);
  EXPECT_NEAR(minima[kLeftBasin].y, -0.04, 0.005);
  EXPECT_NEAR(minima[kRightBasin].y, -0.04, 0.005);
  EXPECT_NEAR(minima[kLeftBasin].energy, -3.995, 5e-4);
  EXPECT_NEAR(minima[kRightBasin].energy, -3.995, 5e-4);
  EXPECT_NEAR(minima[kTopBasin].x, 0.0, 1e-12);
  EXPECT_NEAR(minima[kTopBasin].y, 1.535, 0.005);
  EXPECT_NEAR(minima[kTopBasin].energy, -2.172, 5e-4);
  for (const StationaryPoint& m : minima) {
    double gx, gy;
    three_hole_gradient(m.x, m.y, &gx, &gy);
    EXPECT_LT(std::hypot(gx, gy), 1e-12);
    EXPECT_GT(smallest_hessian_eigenvalue(m.x, m.y), 3.0);  // a true minimum, not a saddle
    EXPECT_DOUBLE_EQ(m.energy, potential_reference(m.x, m.y));
  }
}

// The saddles set the barriers: lower channel (0, −0.316) at −1.385 between the deep wells,
// and (±0.617, 1.103) at −1.647 between a deep well and the top one.
TEST(ThreeHolePotential, SaddlesHaveOneNegativeCurvature) {
  const StationaryPoint lower = refine_stationary_point(0.0, -0.3);
  const StationaryPoint upper = refine_stationary_point(0.6, 1.1);
  EXPECT_NEAR(lower.x, 0.0, 1e-12);
  EXPECT_NEAR(lower.y, -0.3158, 1e-3);
  EXPECT_NEAR(lower.energy, -1.3846, 1e-3);
  EXPECT_NEAR(upper.x, 0.6173, 1e-3);
  EXPECT_NEAR(upper.y, 1.1027, 1e-3);
  EXPECT_NEAR(upper.energy, -1.6467, 1e-3);
  for (const StationaryPoint& s : {lower, upper}) {
    EXPECT_LT(smallest_hessian_eigenvalue(s.x, s.y), 0.0);
    EXPECT_GT(largest_hessian_eigenvalue(s.x, s.y), 0.0);
  }
}

// The documented default time step against the stiffest motion the dynamics can meet: every
// cell with Boltzmann weight above e⁻¹⁵ at T = 3.
TEST(ThreeHoleLangevin, DefaultTimeStepResolvesTheFastestMotion) {
  const LangevinConfig defaults;
  const double v_min = three_hole_minima()[kLeftBasin].energy;
  double stiffest = 0;
  for (double x = -4; x <= 4; x += 0.02)
    for (double y = -3.5; y <= 4.25; y += 0.02)
      if (three_hole_potential(x, y) - v_min < 3.0 * 15)
        stiffest = std::max(stiffest, largest_hessian_eigenvalue(x, y));
  EXPECT_GT(stiffest, 13.0);  // at least the wells' own curvature was seen
  EXPECT_LT(std::sqrt(stiffest) * defaults.time_step, 0.1) << "stiffest curvature " << stiffest;
  const double well_period = 2 * M_PI / std::sqrt(largest_hessian_eigenvalue(1.048, -0.042));
  EXPECT_GT(well_period / defaults.time_step, 100.0);
}

// ---------------------------------------------------------------- basins

TEST(ThreeHoleBasins, MinimaAndClearPointsBelongToTheirBasins) {
  const auto& minima = three_hole_minima();
  for (int b = 0; b < kThreeHoleBasins; ++b) {
    EXPECT_EQ(basin_of(minima[b].x, minima[b].y), b);
    EXPECT_EQ(grid_basin_of(minima[b].x, minima[b].y), b);
  }
  EXPECT_EQ(basin_of(-2.0, 0.0), kLeftBasin);
  EXPECT_EQ(basin_of(2.0, 0.5), kRightBasin);
  EXPECT_EQ(basin_of(0.0, 2.8), kTopBasin);
  EXPECT_EQ(basin_of(0.3, -1.5), kRightBasin);  // just right of the lower channel's ridge
  EXPECT_EQ(basin_of(-0.3, -1.5), kLeftBasin);
  EXPECT_EQ(basin_of(0.2, 0.8), kTopBasin);     // above the central hump, descends to the top well
  EXPECT_EQ(basin_of(6.0, -5.0), kRightBasin);  // outside the quadrature box
  EXPECT_EQ(grid_basin_of(6.0, -5.0), kRightBasin);
  // Far out only the walls act, and the flow q̇ = −0.8·q³ per axis has the closed form
  // 1/q² − 1/q₀² = 1.6·t: a far point must share the basin of its path's entry at |x| = 5.
  for (const auto& [x0, y0] : {std::pair{2e5, 1e5}, std::pair{-3e5, -1e4}, std::pair{7e3, -9e3}}) {
    const double u0 = y0 - 1.0 / 3;
    const double entry_u = std::copysign(1.0 / std::sqrt(1.0 / 25 - 1.0 / (x0 * x0) + 1.0 / (u0 * u0)), u0);
    EXPECT_EQ(basin_of(x0, y0), basin_of(std::copysign(5.0, x0), entry_u + 1.0 / 3))
        << "from (" << x0 << ", " << y0 << ")";
  }
}

// Descent stops at the capture radius 0.25; plain gradient descent (no capture) from a circle
// just outside it must reach the same minimum, and V must be convex inside it.
TEST(ThreeHoleBasins, CaptureDiscsLieInsideTheirBasins) {
  const auto& minima = three_hole_minima();
  for (int b = 0; b < kThreeHoleBasins; ++b)
    for (int k = 0; k < 24; ++k) {
      const double angle = 2 * M_PI * k / 24;
      double x = minima[b].x + 0.27 * std::cos(angle), y = minima[b].y + 0.27 * std::sin(angle);
      EXPECT_GT(smallest_hessian_eigenvalue(x, y), 0.0) << "basin " << b << " angle " << angle;
      for (int it = 0; it < 5000; ++it) {
        double gx, gy;
        three_hole_gradient(x, y, &gx, &gy);
        x -= 0.02 * gx;
        y -= 0.02 * gy;
      }
      EXPECT_LT(std::hypot(x - minima[b].x, y - minima[b].y), 1e-6) << "basin " << b << " angle " << angle;
    }
}

// The cached basin map against fresh descents at random points of the box: they differ only
// for points within a cell of a basin boundary.
TEST(ThreeHoleBasins, GridMapAgreesWithDescent) {
  int disagreements = 0;
  const int n = 3000;
  for (int i = 0; i < n; ++i) {
    const rng::Philox4 w = rng::random_words(7, 0, i);
    const double x = -3 + 6 * rng::uniform_open(w.v[0]), y = -2.5 + 6 * rng::uniform_open(w.v[1]);
    if (grid_basin_of(x, y) != basin_of(x, y)) ++disagreements;
  }
  EXPECT_LE(disagreements, n / 300);
  EXPECT_EQ(reference_grid().unresolved_cells, 0);
}

// ---------------------------------------------------------------- exact reference

TEST(ThreeHoleReference, PopulationsAreNormalisedSymmetricAndFlattenWithTemperature) {
  const std::vector<double> temperatures = {0.5, 0.7, 1.0, 1.5, 2.0, 3.0};
  double previous_top = 0, previous_left = 1;
  for (double t : temperatures) {
    const BasinPopulations p = exact_basin_populations(t);
    std::printf("[ exact    ] T = %.1f: left %.6f  right %.6f  top %.6f  boundary mass %.1e\n", t, p.left, p.right,
                p.top, boundary_mass(t));
    EXPECT_NEAR(p.left + p.right + p.top, 1.0, 1e-12);
    EXPECT_NEAR(p.left, p.right, 1e-12);
    EXPECT_GT(p.top, previous_top) << "T = " << t;  // the shallower well gains as T grows
    EXPECT_LT(p.left, previous_left) << "T = " << t;
    previous_top = p.top;
    previous_left = p.left;
  }
  EXPECT_NEAR(exact_basin_populations(1.0).top, 0.1048, 2e-4);
}

// Independent check of energies, curvatures and quadrature together: as T → 0 the population
// ratio tends to the harmonic one, e^{−ΔV/T}·√(det H_left / det H_top), with an O(T) correction.
TEST(ThreeHoleReference, LowTemperatureLimitIsHarmonic) {
  const auto& m = three_hole_minima();
  const auto det = [](const StationaryPoint& s) {
    double a, b, c;
    three_hole_hessian(s.x, s.y, &a, &b, &c);
    return a * c - b * b;
  };
  double previous_error = 1;
  for (double t : {0.2, 0.1, 0.05}) {
    const BasinPopulations p = exact_basin_populations(t);
    const double harmonic =
        std::exp(-(m[kTopBasin].energy - m[kLeftBasin].energy) / t) * std::sqrt(det(m[kLeftBasin]) / det(m[kTopBasin]));
    const double error = std::abs(p.top / p.left / harmonic - 1);
    EXPECT_LT(error, 0.7 * t) << "T = " << t;
    EXPECT_LT(error, previous_error) << "T = " << t;
    previous_error = error;
  }
}

TEST(ThreeHoleReference, BoxHoldsAllTheMassAndGridIsConverged) {
  const ReferenceGrid& grid = reference_grid();
  EXPECT_EQ(grid.nx, 1600);
  EXPECT_EQ(grid.ny, 1550);
  EXPECT_LT(boundary_mass(3.0), 1e-8);
  for (double t : {1.0, 3.0}) {
    const BasinPopulations fine = exact_basin_populations(t);
    const BasinPopulations coarse = detail::basin_populations_with_spacing(t, 0.01);
    EXPECT_NEAR(coarse.top, fine.top, 2e-5) << "T = " << t;
    EXPECT_NEAR(coarse.left, fine.left, 2e-5) << "T = " << t;
  }
}

TEST(ThreeHoleReference, FreeEnergyDifferenceFollowsPopulations) {
  const BasinPopulations p = exact_basin_populations(1.0);
  EXPECT_NEAR(free_energy_difference(1.0, kLeftBasin, kTopBasin), -std::log(p.top / p.left), 1e-12);
  EXPECT_NEAR(free_energy_difference(1.0, kLeftBasin, kRightBasin), 0.0, 1e-12);
  EXPECT_NEAR(free_energy_difference(2.0, kTopBasin, kLeftBasin), -free_energy_difference(2.0, kLeftBasin, kTopBasin),
              1e-12);
}

// x marginal of exact samples against an independent quadrature of exp(−V/T) (chi-square), and
// the samples' basin fractions against the populations.
TEST(ThreeHoleReference, ExactSamplesFollowTheDensity) {
  const double t = 1.0;
  const std::int64_t n = 200000;
  const Tensor samples = exact_samples(t, n, 5);
  ASSERT_EQ(samples.shape(), Shape({n, 2}));
  const std::vector<float> xy = samples.to_vector();

  const int bins = 50;
  const double lo = -2.5, hi = 2.5, width = (hi - lo) / bins;
  std::vector<double> expected(bins, 0.0), observed(bins, 0.0);
  double total = 0;
  const double h = 0.004;
  for (double x = -4 + h / 2; x < 4; x += h)
    for (double y = -3.5 + h / 2; y < 4.25; y += h) {
      const double w = std::exp(-(potential_reference(x, y) + 4) / t);
      total += w;
      if (x >= lo && x < hi) expected[static_cast<int>((x - lo) / width)] += w;
    }
  double counted = 0, basin_counts[3] = {0, 0, 0};
  for (std::int64_t i = 0; i < n; ++i) {
    const double x = xy[2 * i], y = xy[2 * i + 1];
    if (x >= lo && x < hi) observed[static_cast<int>((x - lo) / width)] += 1, counted += 1;
    basin_counts[grid_basin_of(x, y)] += 1;
  }
  double chi2 = 0;
  int dof = 0;
  for (int b = 0; b < bins; ++b) {
    const double e = expected[b] / total * n;
    if (e < 5) continue;
    chi2 += (observed[b] - e) * (observed[b] - e) / e;
    ++dof;
  }
  // Mean dof, standard deviation √(2·dof): 5σ keeps false failures at ~1e-6.
  EXPECT_LT(chi2, dof + 5 * std::sqrt(2.0 * dof)) << "dof " << dof;
  EXPECT_GT(dof, 30);
  const BasinPopulations p = exact_basin_populations(t);
  for (int b = 0; b < kThreeHoleBasins; ++b) {
    const double sigma = std::sqrt(p[b] * (1 - p[b]) / n);
    EXPECT_NEAR(basin_counts[b] / n, p[b], 5 * sigma) << "basin " << b;
  }
  EXPECT_EQ(exact_samples(t, 100, 5).to_vector(), exact_samples(t, 100, 5).to_vector());
  EXPECT_NE(exact_samples(t, 100, 5).to_vector(), exact_samples(t, 100, 6).to_vector());
}

// ---------------------------------------------------------------- Langevin

std::vector<float> trajectory(LangevinConfig config) { return simulate_three_hole(config).to_vector(); }

TEST(ThreeHoleLangevin, ShapeAndStartingWells) {
  LangevinConfig c;
  c.temperature = 0.3;
  c.frames = 3;
  c.replicas = 7;
  c.equilibration_steps = 0;
  c.steps_per_frame = 1;
  const Tensor out = simulate_three_hole(c);
  EXPECT_EQ(out.shape(), Shape({7, 3, 2}));
  EXPECT_EQ(out.dtype(), DType::Float32);
  const std::vector<float> xy = out.to_vector();
  const auto& minima = three_hole_minima();
  for (int r = 0; r < 7; ++r) {
    const StationaryPoint& m = minima[r % 3];
    EXPECT_LT(std::hypot(xy[r * 6] - m.x, xy[r * 6 + 1] - m.y), 0.05) << "replica " << r;
  }
}

TEST(ThreeHoleLangevin, DeterministicForAnySplit) {
  LangevinConfig c;
  c.temperature = 1.0;
  c.frames = 40;
  c.replicas = 11;
  c.equilibration_steps = 100;
  c.seed = 42;
  c.threads = 1;
  const std::vector<float> one_thread = trajectory(c);
  for (int threads : {2, 3, 16}) {
    c.threads = threads;
    EXPECT_EQ(trajectory(c), one_thread) << threads << " threads";
  }
  // A replica's path depends on (seed, replica) only, not on how many others run beside it.
  c.replicas = 4;
  const std::vector<float> fewer = trajectory(c);
  EXPECT_TRUE(std::equal(fewer.begin(), fewer.end(), one_thread.begin()));
  c.replicas = 11;
  c.seed = 43;
  EXPECT_NE(trajectory(c), one_thread);
}

// The headline check: a many-replica run at T = 1 reproduces the quadrature populations.
// Replicas are independent, so the spread of their per-replica fractions gives the error bar.
TEST(ThreeHoleLangevin, PopulationsMatchQuadratureAtTemperatureOne) {
  LangevinConfig c;
  c.temperature = 1.0;
  c.replicas = 1024;
  c.frames = 2000;
  c.equilibration_steps = 3000;  // ~3 inter-well relaxation times: the even start has relaxed
  c.seed = 2024;
  const auto start = std::chrono::steady_clock::now();
  const std::vector<float> xy = trajectory(c);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const double steps = double(c.replicas) * (c.equilibration_steps + c.frames * c.steps_per_frame);
  std::printf("[ langevin ] %d replicas x %lld frames in %.2f s on %u cores: %.3g frames/s/core, %.3g steps/s/core\n",
              c.replicas, static_cast<long long>(c.frames), seconds, cores,
              c.replicas * double(c.frames) / seconds / cores, steps / seconds / cores);

  double mean[3] = {0, 0, 0}, square[3] = {0, 0, 0};
  for (int r = 0; r < c.replicas; ++r) {
    double counts[3] = {0, 0, 0};
    for (std::int64_t f = 0; f < c.frames; ++f) {
      const std::size_t i = 2 * (std::size_t(r) * c.frames + f);
      counts[grid_basin_of(xy[i], xy[i + 1])] += 1;
    }
    for (int b = 0; b < 3; ++b) {
      const double fraction = counts[b] / c.frames;
      mean[b] += fraction / c.replicas;
      square[b] += fraction * fraction / c.replicas;
    }
  }
  const BasinPopulations exact = exact_basin_populations(1.0);
  for (int b = 0; b < 3; ++b) {
    const double error = std::sqrt((square[b] - mean[b] * mean[b]) / (c.replicas - 1));
    std::printf("[ langevin ] basin %d: %.4f +- %.4f   exact %.4f\n", b, mean[b], error, exact[b]);
    EXPECT_GT(error, 0.0);
    EXPECT_NEAR(mean[b], exact[b], 4.5 * error) << "basin " << b;
  }
}

// ---------------------------------------------------------------- bad input

TEST(ThreeHoleLangevin, BadConfigNamesTheField) {
  LangevinConfig good;
  good.temperature = 1;
  good.frames = 2;
  good.equilibration_steps = 0;
  const auto with = [&](auto change) {
    LangevinConfig c = good;
    change(c);
    return [c] { simulate_three_hole(c); };
  };
  testing::expect_invalid_argument_all(with([](LangevinConfig& c) { c.temperature = 0; }), {"temperature", "got 0"});
  testing::expect_invalid_argument_all(with([](LangevinConfig& c) { c.temperature = -2.5; }), {"temperature", "-2.5"});
  testing::expect_invalid_argument_all(with([](LangevinConfig& c) { c.temperature = NAN; }), {"temperature", "nan"});
  testing::expect_invalid_argument_all(with([](LangevinConfig& c) { c.time_step = 0; }), {"time_step", "got 0"});
  testing::expect_invalid_argument_all(with([](LangevinConfig& c) { c.friction = -1; }), {"friction", "-1"});
  testing::expect_invalid_argument_all(with([](LangevinConfig& c) { c.frames = 0; }), {"frames", "got 0"});
  testing::expect_invalid_argument_all(with([](LangevinConfig& c) { c.replicas = 0; }), {"replicas", "got 0"});
  testing::expect_invalid_argument_all(with([](LangevinConfig& c) { c.steps_per_frame = 0; }), {"steps_per_frame", "got 0"});
  testing::expect_invalid_argument_all(with([](LangevinConfig& c) { c.equilibration_steps = -1; }), {"equilibration_steps", "-1"});
  testing::expect_invalid_argument_all(with([](LangevinConfig& c) { c.threads = -3; }), {"threads", "-3"});
  testing::expect_invalid_argument_all([] { simulate_three_hole(LangevinConfig{}); }, {"temperature", "got 0"});  // nothing set
}

TEST(ThreeHoleReference, BadArgumentsNameTheOperand) {
  testing::expect_invalid_argument_all([] { exact_basin_populations(0); }, {"exact_basin_populations", "temperature", "got 0"});
  testing::expect_invalid_argument_all([] { exact_samples(-1, 10, 0); }, {"exact_samples", "temperature", "-1"});
  testing::expect_invalid_argument_all([] { exact_samples(1, 0, 0); }, {"exact_samples", "n", "got 0"});
  testing::expect_invalid_argument_all([] { basin_of(NAN, 0); }, {"basin_of", "nan"});
  testing::expect_invalid_argument_all([] { basin_of(0, -2e6); }, {"basin_of", "-2e+06"});
  testing::expect_invalid_argument_all([] { grid_basin_of(0, INFINITY); }, {"grid_basin_of", "inf"});
  testing::expect_invalid_argument_all([] { free_energy_difference(1, 0, 3); }, {"to_basin", "got 3"});
  testing::expect_invalid_argument_all([] { boundary_mass(-1); }, {"boundary_mass", "temperature"});
}

}  // namespace
}  // namespace latf

namespace latf::systems {
namespace {

TEST(ThreeHoleLangevin, StartsFromGivenPositionsAndRejectsBadOnes) {
  LangevinConfig config;
  config.temperature = 0.5;
  config.frames = 1;
  config.replicas = 2;
  config.equilibration_steps = 0;
  config.steps_per_frame = 1;
  config.initial_positions = Tensor::from_vector(std::vector<float>{0.f, 1.5f, -1.f, 0.f}, {2, 2});
  const auto first = simulate_three_hole(config).to_vector();
  EXPECT_NEAR(first[0], 0.0, 0.1);  // one step of 0.01 from the start
  EXPECT_NEAR(first[1], 1.5, 0.1);
  EXPECT_NEAR(first[2], -1.0, 0.1);
  config.initial_positions = Tensor::zeros({3, 2});
  EXPECT_THROW(simulate_three_hole(config), InvalidArgument);
}

}  // namespace
}  // namespace latf::systems
