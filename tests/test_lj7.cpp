#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>
#include <vector>

#include "engine/error.hpp"
#include "engine/random.hpp"
#include "systems/langevin_math.hpp"
#include "systems/lj7.hpp"
#include "systems/lj7_math.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using namespace systems;
using Config14 = std::array<double, 14>;

// ---------------------------------------------------------------- independent references

// 4(r⁻¹² − r⁻⁶) written with pow, cut at 2.5 and shifted there.
double lj_reference(double r) { return 4 * (std::pow(r, -12) - std::pow(r, -6)); }
double pair_reference(double r) { return r < 2.5 ? lj_reference(r) - lj_reference(2.5) : 0.0; }

double potential_reference(const Config14& q, bool wall) {
  double v = 0;
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < i; ++j) v += pair_reference(std::hypot(q[2 * i] - q[2 * j], q[2 * i + 1] - q[2 * j + 1]));
  if (wall) {
    double cx = 0, cy = 0;
    for (int i = 0; i < 7; ++i) cx += q[2 * i] / 7, cy += q[2 * i + 1] / 7;
    for (int i = 0; i < 7; ++i) {
      const double d = std::hypot(q[2 * i] - cx, q[2 * i + 1] - cy);
      if (d > 2.0) v += 50 * (d - 2.0) * (d - 2.0);
    }
  }
  return v;
}

// METHOD.md's switching function as written, (1 − x⁸)/(1 − x¹⁶), away from x = 1.
double switch_reference(double r) {
  const double x = r / 1.5;
  return (1 - std::pow(x, 8)) / (1 - std::pow(x, 16));
}

// Coordination numbers (unsorted) and their moments by raw moments: μ2 = ⟨c²⟩ − c̄²,
// μ3 = ⟨c³⟩ − 3c̄⟨c²⟩ + 2c̄³, a different route than the library's centred sums.
void descriptors_reference(const Config14& q, std::vector<double>& c, double& mu2, double& mu3) {
  c.assign(7, 0.0);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 7; ++j)
      if (j != i) c[i] += switch_reference(std::hypot(q[2 * i] - q[2 * j], q[2 * i + 1] - q[2 * j + 1]));
  double m1 = 0, m2 = 0, m3 = 0;
  for (double v : c) m1 += v / 7, m2 += v * v / 7, m3 += v * v * v / 7;
  mu2 = m2 - m1 * m1;
  mu3 = m3 - 3 * m1 * m2 + 2 * m1 * m1 * m1;
}

Config14 hexagon() {
  Config14 q;
  lj7_hexagon(q.data());
  return q;
}

// The hexagon, every coordinate displaced uniformly in ±amplitude.
Config14 jiggled_hexagon(std::uint64_t seed, double amplitude) {
  Config14 q = hexagon();
  for (int b = 0; b < 4; ++b) {
    const rng::Philox4 w = rng::random_words(seed, 11, b);
    for (int k = 0; k < 4 && 4 * b + k < 14; ++k) q[4 * b + k] += amplitude * (2 * rng::uniform_open(w.v[k]) - 1);
  }
  return q;
}

// Hexagon ring spacing from scratch: golden-section minimum of E(a) = 12V(a) + 6V(√3a) + 3V(2a),
// the hexagon-plus-centre's unshifted energy as a function of its nearest-neighbour distance.
double hexagon_energy_unshifted(double a) {
  return 12 * lj_reference(a) + 6 * lj_reference(std::sqrt(3.0) * a) + 3 * lj_reference(2 * a);
}
double hexagon_spacing_reference() {
  double lo = 1.0, hi = 1.25;
  const double g = (std::sqrt(5.0) - 1) / 2;
  for (int it = 0; it < 200; ++it) {
    const double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    if (hexagon_energy_unshifted(a) < hexagon_energy_unshifted(b))
      hi = b;
    else
      lo = a;
  }
  return 0.5 * (lo + hi);
}

double max_distance_from_center(const double* q) {
  double cx, cy, worst = 0;
  lj7_center_of_mass(q, &cx, &cy);
  for (int i = 0; i < 7; ++i) worst = std::max(worst, std::hypot(q[2 * i] - cx, q[2 * i + 1] - cy));
  return worst;
}

// Gradient descent to the nearest minimum; the step 0.004 stays below 2/λ of the stiffest
// modes a quench meets (λ ≲ 500). Returns the final gradient norm.
double quench(Config14& q, int max_iterations = 40000) {
  double f[14];
  double norm = 0;
  for (int it = 0; it < max_iterations; ++it) {
    lj7_force(q.data(), f);
    norm = 0;
    for (int d = 0; d < 14; ++d) norm += f[d] * f[d];
    norm = std::sqrt(norm);
    if (norm < 1e-8) break;
    for (int d = 0; d < 14; ++d) q[d] += 0.004 * f[d];
  }
  return norm;
}

// ---------------------------------------------------------------- potential and force

TEST(Lj7Potential, MatchesIndependentFormula) {
  for (std::uint64_t seed = 0; seed < 20; ++seed)
    for (bool wall : {false, true}) {
      Config14 q = jiggled_hexagon(seed, 0.3);
      if (seed % 2) q[6] += 1.5 + 0.1 * seed;  // atom 3 pulled out past the wall
      EXPECT_NEAR(lj7_potential(q.data(), wall), potential_reference(q, wall), 1e-10) << "seed " << seed;
    }
  // Continuous at the cut-off; zero beyond it.
  EXPECT_NEAR(lj7_pair_potential(2.5 * 2.5 * (1 - 1e-12)), 0.0, 1e-12);
  EXPECT_EQ(lj7_pair_potential(2.6 * 2.6), 0.0);
  EXPECT_NEAR(lj7_pair_potential(std::pow(2.0, 1.0 / 3)), -1.0 - lj_reference(2.5), 1e-12);
}

TEST(Lj7Potential, ForceIsMinusGradient) {
  const double h = 1e-6;
  for (std::uint64_t seed = 0; seed < 12; ++seed)
    for (bool wall : {false, true}) {
      Config14 q = jiggled_hexagon(seed, 0.25);
      if (seed % 3 == 1) q[8] -= 1.8, q[9] += 0.4;  // atom 4 beyond r_w: the wall is active
      if (seed % 3 == 2) q[12] += 2.5;              // atom 6 beyond r_w and past some cut-offs
      double f[14];
      lj7_force(q.data(), f, wall);
      double active_wall = 0;
      for (int d = 0; d < 14; ++d) {
        Config14 plus = q, minus = q;
        plus[d] += h;
        minus[d] -= h;
        const double fd = -(potential_reference(plus, wall) - potential_reference(minus, wall)) / (2 * h);
        EXPECT_NEAR(f[d], fd, 1e-5 * std::max(1.0, std::abs(fd))) << "seed " << seed << " wall " << wall << " d " << d;
      }
      if (wall) {
        double g[14];
        lj7_force(q.data(), g, false);
        for (int d = 0; d < 14; ++d) active_wall = std::max(active_wall, std::abs(f[d] - g[d]));
        if (seed % 3 != 0) {
          EXPECT_GT(active_wall, 1.0) << "seed " << seed << ": the wall was meant to act";
        }
        // The wall only reshapes: its forces sum to zero in each direction.
        double sx = 0, sy = 0;
        for (int i = 0; i < 7; ++i) sx += f[2 * i] - g[2 * i], sy += f[2 * i + 1] - g[2 * i + 1];
        EXPECT_NEAR(sx, 0.0, 1e-9);
        EXPECT_NEAR(sy, 0.0, 1e-9);
      }
    }
}

TEST(Lj7Potential, HexagonIsTheKnownGroundState) {
  const double a = hexagon_spacing_reference();
  EXPECT_NEAR(kLj7HexagonSpacing, a, 1e-7);
  const double unshifted = hexagon_energy_unshifted(a);
  EXPECT_NEAR(unshifted, -12.53, 0.01);  // the literature's 2-D LJ7 ground state
  const Config14 q = hexagon();
  // All 21 pairs lie inside the cut-off (the longest is 2a ≈ 2.24), so the shift adds 21·|V(2.5)|.
  const double shifted = unshifted - 21 * lj_reference(2.5);
  std::printf("[ lj7 ] hexagon: spacing %.9f, energy %.6f unshifted, %.6f shifted\n", a, unshifted, shifted);
  EXPECT_NEAR(lj7_potential(q.data()), shifted, 1e-9);
  EXPECT_NEAR(shifted, -12.1922, 1e-4);
  double f[14];
  lj7_force(q.data(), f);
  for (int d = 0; d < 14; ++d) EXPECT_NEAR(f[d], 0.0, 1e-9) << "coordinate " << d;
  EXPECT_LT(max_distance_from_center(q.data()), kLj7WallRadius);
}

// The default time step against the stiffest normal mode of the hexagon: largest Hessian
// eigenvalue (finite differences of the force, power iteration).
TEST(Lj7Langevin, DefaultTimeStepResolvesTheFastestMode) {
  const Config14 q = hexagon();
  double hessian[14][14];
  const double h = 1e-6;
  for (int d = 0; d < 14; ++d) {
    Config14 plus = q, minus = q;
    plus[d] += h;
    minus[d] -= h;
    double fp[14], fm[14];
    lj7_force(plus.data(), fp);
    lj7_force(minus.data(), fm);
    for (int e = 0; e < 14; ++e) hessian[e][d] = -(fp[e] - fm[e]) / (2 * h);
  }
  std::vector<double> v(14, 1.0), w(14);
  v[3] = -2, v[8] = 0.5;
  double lambda = 0;
  for (int it = 0; it < 3000; ++it) {
    double norm = 0;
    for (int e = 0; e < 14; ++e) {
      w[e] = 0;
      for (int d = 0; d < 14; ++d) w[e] += hessian[e][d] * v[d];
      norm += w[e] * w[e];
    }
    norm = std::sqrt(norm);
    lambda = norm;
    for (int e = 0; e < 14; ++e) v[e] = w[e] / norm;
  }
  const double omega = std::sqrt(lambda);
  const Lj7Config defaults;
  std::printf("[ lj7 ] stiffest hexagon mode: lambda %.2f, omega %.2f, omega*dt %.3f\n", lambda, omega,
              omega * defaults.time_step);
  EXPECT_GT(lambda, 57.0);  // at least the pair curvature V''(2^{1/6}) ≈ 57.1
  EXPECT_LT(omega * defaults.time_step, 0.1);
  EXPECT_GT(2 * M_PI / omega / defaults.time_step, 60.0);  // steps per period of the fastest mode
}

// ---------------------------------------------------------------- descriptors

TEST(Lj7Descriptors, SwitchingFunctionAndItsLimit) {
  EXPECT_EQ(lj7_switch(1.5 * 1.5), 0.5);  // the removable singularity at r = r₀
  for (double r : {0.3, 0.9, 1.1, 1.4, 1.49, 1.51, 1.6, 2.2, 3.7})
    EXPECT_NEAR(lj7_switch(r * r), switch_reference(r), 1e-12) << "r = " << r;
  // Approaching r₀ the raw formula tends to 1/2.
  EXPECT_NEAR(switch_reference(1.5 * (1 + 1e-6)), 0.5, 1e-5);
}

TEST(Lj7Descriptors, HexagonByHand) {
  const double a = kLj7HexagonSpacing;
  const double centre = 6 * switch_reference(a);
  const double ring = 3 * switch_reference(a) + 2 * switch_reference(std::sqrt(3.0) * a) + switch_reference(2 * a);
  std::vector<float> q(14);
  const Config14 hq = hexagon();
  std::copy(hq.begin(), hq.end(), q.begin());
  float c[7], mu[2];
  lj7_descriptors(q.data(), c, mu);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(c[i], ring, 1e-5) << "ring atom " << i;
  EXPECT_NEAR(c[6], centre, 1e-5);  // the centre has the most neighbours: last after sorting
  // One outlier among seven, δ = centre − ring: six atoms at −δ/7 from the mean, one at 6δ/7,
  // so μ2 = (6 + 36)δ²/343 = 6δ²/49 and μ3 = (216 − 6)δ³/2401.
  const double delta = centre - ring;
  EXPECT_NEAR(mu[0], 6.0 / 49 * delta * delta, 1e-5);
  EXPECT_NEAR(mu[1], (216.0 - 6) / 2401 * delta * delta * delta, 1e-5);
  std::printf("[ lj7 ] hexagon: ring c = %.5f, centre c = %.5f, mu2 = %.5f, mu3 = %.5f\n", ring, centre, mu[0], mu[1]);
}

TEST(Lj7Descriptors, MatchDirectComputationAndIgnoreLabels) {
  for (std::uint64_t seed = 0; seed < 30; ++seed) {
    Config14 q = jiggled_hexagon(seed, 0.4);
    if (seed % 5 == 0) q[10] += 1.2;
    std::vector<float> qf(q.begin(), q.end());
    Config14 rounded;  // the reference sees the same float positions
    std::copy(qf.begin(), qf.end(), rounded.begin());
    std::vector<double> c_ref;
    double mu2, mu3;
    descriptors_reference(rounded, c_ref, mu2, mu3);
    std::sort(c_ref.begin(), c_ref.end());
    float c[7], mu[2];
    lj7_descriptors(qf.data(), c, mu);
    for (int i = 0; i < 7; ++i) EXPECT_NEAR(c[i], c_ref[i], 2e-6) << "seed " << seed << " i " << i;
    EXPECT_NEAR(mu[0], mu2, 1e-6) << "seed " << seed;
    EXPECT_NEAR(mu[1], mu3, 1e-6) << "seed " << seed;
    // Relabel the atoms (a rotation of the indices) and translate: nothing changes.
    std::vector<float> moved(14);
    for (int i = 0; i < 7; ++i) {
      const int j = (i + 3) % 7;
      moved[2 * j] = qf[2 * i] + 0.25f;
      moved[2 * j + 1] = qf[2 * i + 1] - 0.5f;
    }
    float c2[7], mu_moved[2];
    lj7_descriptors(moved.data(), c2, mu_moved);
    for (int i = 0; i < 7; ++i) EXPECT_NEAR(c2[i], c[i], 2e-6);
    EXPECT_NEAR(mu_moved[0], mu[0], 1e-6);
    for (int i = 1; i < 7; ++i) EXPECT_LE(c[i - 1], c[i]);
  }
  testing::expect_invalid_argument_all([] { lj7_descriptors(nullptr, nullptr, nullptr); },
                                       {"lj7_descriptors", "positions14"});
}

// ---------------------------------------------------------------- Langevin

Lj7Config small_run() {
  Lj7Config c;
  c.temperature = 0.3;
  c.frames = 30;
  c.steps_per_frame = 20;
  c.equilibration_steps = 50;
  c.replicas = 9;
  c.seed = 42;
  return c;
}

TEST(Lj7Langevin, ShapesStartAndDescriptorsOfFrames) {
  Lj7Config c = small_run();
  c.equilibration_steps = 0;
  c.steps_per_frame = 1;
  c.temperature = 0.05;
  const Lj7Trajectories t = simulate_lj7(c);
  EXPECT_EQ(t.positions.shape(), Shape({9, 30, 14}));
  EXPECT_EQ(t.descriptors.shape(), Shape({9, 30, 7}));
  EXPECT_EQ(t.order_parameters.shape(), Shape({9, 30, 2}));
  EXPECT_EQ(t.positions.dtype(), DType::Float32);
  const std::vector<float> pos = t.positions.to_vector(), desc = t.descriptors.to_vector(),
                           op = t.order_parameters.to_vector();
  const Config14 h = hexagon();
  for (int r = 0; r < 9; ++r)  // one step of 0.005 from the hexagon
    for (int d = 0; d < 14; ++d) EXPECT_NEAR(pos[r * 30 * 14 + d], h[d], 0.01) << "replica " << r;
  for (std::size_t frame = 0; frame < 9 * 30; ++frame) {
    float c7[7], mu[2];
    lj7_descriptors(&pos[frame * 14], c7, mu);
    for (int i = 0; i < 7; ++i) ASSERT_EQ(desc[frame * 7 + i], c7[i]) << "frame " << frame;
    ASSERT_EQ(op[frame * 2], mu[0]);
    ASSERT_EQ(op[frame * 2 + 1], mu[1]);
  }
}

TEST(Lj7Langevin, DeterministicForAnySplitAndSeed) {
  Lj7Config c = small_run();
  c.threads = 1;
  const Lj7Trajectories one = simulate_lj7(c);
  const std::vector<float> reference = one.positions.to_vector();
  for (int threads : {2, 3, 16}) {
    c.threads = threads;
    const Lj7Trajectories t = simulate_lj7(c);
    EXPECT_EQ(t.positions.to_vector(), reference) << threads << " threads";
    EXPECT_EQ(t.order_parameters.to_vector(), one.order_parameters.to_vector()) << threads << " threads";
  }
  c.replicas = 4;  // a replica's path depends on (seed, replica) only
  const std::vector<float> fewer = simulate_lj7(c).positions.to_vector();
  EXPECT_TRUE(std::equal(fewer.begin(), fewer.end(), reference.begin()));
  c.replicas = 9;
  c.seed = 43;
  EXPECT_NE(simulate_lj7(c).positions.to_vector(), reference);
}

// The dynamics samples kT = T: near T = 0 the mean potential energy per kT above the hexagon
// tends to the harmonic (14 − 3)/2 (11 non-zero modes of 14: two translations and a rotation
// are free), with an anharmonic correction linear in T, removed by Richardson extrapolation
// from T = 0.025 and 0.05 (measured slope ≈ 7: ⟨V − E₀⟩/T ≈ 5.73 and 5.90 there).
double excess_energy_over_temperature(double temperature) {
  Lj7Config c;
  c.temperature = temperature;
  c.replicas = 8;
  c.frames = 2000;
  c.steps_per_frame = 20;
  c.equilibration_steps = 2000;
  c.seed = 9;
  const std::vector<float> pos = simulate_lj7(c).positions.to_vector();
  double mean = 0;
  const std::size_t n = pos.size() / 14;
  for (std::size_t k = 0; k < n; ++k) {
    double q[14];
    for (int d = 0; d < 14; ++d) q[d] = pos[k * 14 + d];
    mean += lj7_potential(q) / n;
  }
  return (mean - lj7_potential(hexagon().data())) / temperature;
}

TEST(Lj7Langevin, LowTemperatureEnergyIsHarmonic) {
  const double coarse = excess_energy_over_temperature(0.05), fine = excess_energy_over_temperature(0.025);
  const double limit = 2 * fine - coarse;
  std::printf("[ lj7 ] <V - E0>/T: %.4f at T = 0.05, %.4f at T = 0.025, extrapolated %.4f (harmonic 5.5)\n", coarse,
              fine, limit);
  EXPECT_NEAR(limit, 5.5, 0.25);
  EXPECT_GT(fine, 5.5);  // LJ softens with stretching: anharmonicity raises ⟨V⟩
}

// Confinement: 16 replicas × 12 500 steps = 200 000 steps at T = 0.7, checked after every step.
TEST(Lj7Langevin, NoAtomEscapesAtHighTemperature) {
  Lj7Config c;
  c.temperature = 0.7;
  c.replicas = 16;
  c.frames = 12500;
  c.steps_per_frame = 1;
  c.equilibration_steps = 0;
  c.seed = 5;
  const auto start = std::chrono::steady_clock::now();
  const Lj7Trajectories t = simulate_lj7(c);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const double steps = double(c.replicas) * c.frames;
  std::printf("[ lj7 ] %.0f steps in %.3f s on %u cores: %.3g steps/s/core = %.3g frames/s/core at 100 steps/frame\n",
              steps, seconds, cores, steps / seconds / cores, steps / seconds / cores / 100);
  const std::vector<float> pos = t.positions.to_vector();
  double worst = 0, beyond_wall = 0;
  for (std::size_t k = 0; k < pos.size() / 14; ++k) {
    double q[14];
    for (int d = 0; d < 14; ++d) q[d] = pos[k * 14 + d];
    const double r = max_distance_from_center(q);
    worst = std::max(worst, r);
    if (r > kLj7WallRadius) beyond_wall += 1;
  }
  std::printf("[ lj7 ] T = 0.7: farthest atom %.3f from the centre of mass; %.4f%% of steps past r_w\n", worst,
              100 * beyond_wall / (pos.size() / 14));
  EXPECT_LT(worst, kLj7WallRadius + 0.5);
  EXPECT_GT(worst, 1.5);  // the cluster did explore: atoms left the hexagon's ring radius 1.12
}

// ---------------------------------------------------------------- isomers

struct Isomer {
  double energy, mu2, mu3;
  Config14 q;
};

// The distinct minima reached by quenching frames of a T = 0.5 run, lowest energy first.
std::vector<Isomer> quenched_isomers() {
  Lj7Config c;
  c.temperature = 0.5;
  c.replicas = 8;
  c.frames = 25;
  c.steps_per_frame = 400;
  c.equilibration_steps = 1000;
  c.seed = 11;
  const std::vector<float> pos = simulate_lj7(c).positions.to_vector();
  std::vector<Isomer> found;
  for (std::size_t k = 0; k < pos.size() / 14; ++k) {
    Config14 q;
    for (int d = 0; d < 14; ++d) q[d] = pos[k * 14 + d];
    if (quench(q) > 1e-6) continue;
    const double e = lj7_potential(q.data());
    if (std::any_of(found.begin(), found.end(), [&](const Isomer& i) { return std::abs(i.energy - e) < 1e-5; }))
      continue;
    std::vector<float> qf(q.begin(), q.end());
    float c7[7], mu[2];
    lj7_descriptors(qf.data(), c7, mu);
    found.push_back({e, mu[0], mu[1], q});
  }
  std::sort(found.begin(), found.end(), [](const Isomer& a, const Isomer& b) { return a.energy < b.energy; });
  return found;
}

TEST(Lj7Isomers, FourLowestAreDistinctInOrderParameters) {
  const std::vector<Isomer> isomers = quenched_isomers();
  ASSERT_GE(isomers.size(), 4u);
  for (std::size_t k = 0; k < isomers.size(); ++k)
    std::printf("[ lj7 ] isomer %zu: E = %.5f, mu2 = %.4f, mu3 = %.4f, farthest atom %.3f\n", k, isomers[k].energy,
                isomers[k].mu2, isomers[k].mu3, max_distance_from_center(isomers[k].q.data()));
  EXPECT_NEAR(isomers[0].energy, lj7_potential(hexagon().data()), 1e-6);  // the hexagon is the ground state
  for (int k = 0; k < 4; ++k) {
    EXPECT_LT(max_distance_from_center(isomers[k].q.data()), 1.9) << "isomer " << k << " feels the wall";
    for (int l = 0; l < k; ++l)
      EXPECT_GT(std::hypot(isomers[k].mu2 - isomers[l].mu2, isomers[k].mu3 - isomers[l].mu3), 0.05)
          << "isomers " << l << " and " << k;
  }
}

// Frames at temperature T started in each of the four isomers, each frame labelled by the
// minimum it quenches to (-1: none of the four) and by the isomer nearest in (μ2, μ3).
struct Classified {
  int label, nearest;
  double mu2, mu3;
};
std::vector<Classified> classify_frames(const std::vector<Isomer>& isomers, double temperature) {
  const int frames = 200;
  const LangevinRun run = make_langevin_run(temperature, 0.005, 1.0, 3, 0, 500, 100, frames);
  std::vector<Classified> out;
  for (int k = 0; k < 4; ++k) {
    std::vector<float> start(isomers[k].q.begin(), isomers[k].q.end()), path(frames * 14);
    run_langevin_replica<Lj7System>(run, k, start.data(), path.data());
    for (int f = 0; f < frames; ++f) {
      float c7[7], mu[2];
      lj7_descriptors(&path[f * 14], c7, mu);
      Classified c{-1, 0, mu[0], mu[1]};
      double best = 1e300;
      for (int l = 0; l < 4; ++l) {
        const double d = std::hypot(mu[0] - isomers[l].mu2, mu[1] - isomers[l].mu3);
        if (d < best) best = d, c.nearest = l;
      }
      Config14 q;
      for (int d = 0; d < 14; ++d) q[d] = path[f * 14 + d];
      if (quench(q) < 1e-6) {
        const double e = lj7_potential(q.data());
        for (int l = 0; l < 4; ++l)
          if (std::abs(e - isomers[l].energy) < 1e-5) c.label = l;
      }
      out.push_back(c);
    }
  }
  return out;
}

// Thermal frames are told apart by (μ2, μ3) alone: nearly perfectly at T = 0.1; at T = 0.2
// the clouds of the two middle isomers overlap (measured agreement ≈ 0.8), but every isomer's
// mean (μ2, μ3) still lies nearest its own minimum's.
TEST(Lj7Isomers, ThermalFramesAreClassifiedByOrderParameters) {
  const std::vector<Isomer> isomers = quenched_isomers();
  ASSERT_GE(isomers.size(), 4u);
  for (double temperature : {0.1, 0.2}) {
    const std::vector<Classified> frames = classify_frames(isomers, temperature);
    int confusion[4][4] = {}, total = 0, agree = 0;
    double mean[4][2] = {}, count[4] = {};
    for (const Classified& c : frames) {
      if (c.label < 0) continue;
      ++confusion[c.label][c.nearest];
      ++total;
      agree += c.label == c.nearest;
      mean[c.label][0] += c.mu2, mean[c.label][1] += c.mu3, count[c.label] += 1;
    }
    std::printf("[ lj7 ] T = %.1f: %d of %d frames classified by (mu2, mu3) like their quench\n", temperature, agree,
                total);
    for (int k = 0; k < 4; ++k) {
      std::printf("[ lj7 ]   isomer %d: %3.0f frames, mean (%.3f, %.3f), nearest-isomer counts %d %d %d %d\n", k,
                  count[k], mean[k][0] / count[k], mean[k][1] / count[k], confusion[k][0], confusion[k][1],
                  confusion[k][2], confusion[k][3]);
      ASSERT_GE(count[k], 10) << "isomer " << k << " at T = " << temperature;
      int nearest = 0;
      double best = 1e300;
      for (int l = 0; l < 4; ++l) {
        const double d = std::hypot(mean[k][0] / count[k] - isomers[l].mu2, mean[k][1] / count[k] - isomers[l].mu3);
        if (d < best) best = d, nearest = l;
      }
      EXPECT_EQ(nearest, k) << "mean of isomer " << k << " at T = " << temperature;
    }
    EXPECT_GE(total, 600);
    EXPECT_GE(agree, (temperature < 0.15 ? 0.9 : 0.7) * total) << "T = " << temperature;
  }
}

// ---------------------------------------------------------------- bad input

TEST(Lj7Langevin, BadConfigNamesTheField) {
  Lj7Config good;
  good.temperature = 1;
  good.frames = 2;
  good.equilibration_steps = 0;
  const auto with = [&](auto change) {
    Lj7Config c = good;
    change(c);
    return [c] { simulate_lj7(c); };
  };
  testing::expect_invalid_argument_all(with([](Lj7Config& c) { c.temperature = 0; }), {"LJ7", "temperature", "got 0"});
  testing::expect_invalid_argument_all(with([](Lj7Config& c) { c.temperature = -0.5; }), {"temperature", "-0.5"});
  testing::expect_invalid_argument_all(with([](Lj7Config& c) { c.temperature = INFINITY; }), {"temperature", "inf"});
  testing::expect_invalid_argument_all(with([](Lj7Config& c) { c.time_step = 0; }), {"time_step", "got 0"});
  testing::expect_invalid_argument_all(with([](Lj7Config& c) { c.time_step = NAN; }), {"time_step", "nan"});
  testing::expect_invalid_argument_all(with([](Lj7Config& c) { c.friction = -1; }), {"friction", "-1"});
  testing::expect_invalid_argument_all(with([](Lj7Config& c) { c.frames = 0; }), {"frames", "got 0"});
  testing::expect_invalid_argument_all(with([](Lj7Config& c) { c.replicas = 0; }), {"replicas", "got 0"});
  testing::expect_invalid_argument_all(with([](Lj7Config& c) { c.steps_per_frame = 0; }), {"steps_per_frame", "got 0"});
  testing::expect_invalid_argument_all(with([](Lj7Config& c) { c.equilibration_steps = -1; }),
                                       {"equilibration_steps", "-1"});
  testing::expect_invalid_argument_all(with([](Lj7Config& c) { c.threads = -3; }), {"threads", "-3"});
  testing::expect_invalid_argument_all([] { simulate_lj7(Lj7Config{}); }, {"temperature", "got 0"});
}

}  // namespace
}  // namespace latf
