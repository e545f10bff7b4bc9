#pragma once
// Formulas of the exponentially tilted Gaussian prior (METHOD.md §5), shared by the CPU loops
// and the CUDA kernels:
//   log r(z; τ, T') = τ‖z‖ − ‖z‖²/(2T') − (d/2)·log(2πT') − log Z(τ, d, T').
#include <cmath>
#include <cstdint>

#include "engine/hd.hpp"
#include "engine/random_math.hpp"

namespace latf::kernels::tilted {

// Proposals one row may use before the sampler gives up. The acceptance rate is above ~0.5
// for every (τ, d, T'), so reaching this cap means a bug, not bad luck.
constexpr int kMaxSampleAttempts = 10000;

// Below this norm ∂‖z‖/∂z is replaced by its subgradient 0.
constexpr double kNormGuard = 1e-30;

LATF_HD double log_add_exp(double a, double b) {
  const double hi = std::fmax(a, b), lo = std::fmin(a, b);
  if (hi == -INFINITY) return -INFINITY;
  return hi + std::log1p(std::exp(lo - hi));
}

// log ₁F₁(a; b; x) for a, b > 0, x ≥ 0, as the log of a sum of positive terms
//   log t_n = lgamma(a+n) − lgamma(a) − lgamma(b+n) + lgamma(b) + n·log x − lgamma(n+1).
// For a ≥ min(b, 1) (both series of Z) the sequence log t_n is concave in n (its increments
// log[(a+n)x/((b+n)(n+1))] decrease), so the terms are unimodal around n*, the root of
// (a+n)x = (b+n)(n+1), and fall off like a Gaussian of width ~√(n*+1): a window of 12 widths
// (+40 for small n*) leaves out a relative part of order e⁻⁷⁰. Summing in log space never
// overflows, whatever x.
LATF_HD double log_hyp1f1_positive(double a, double b, double x) {
  if (x == 0.0) return 0.0;
  // n² + (b + 1 − x)·n + (b − a·x) = 0
  const double p = b + 1.0 - x, q = b - a * x;
  const double disc = p * p - 4.0 * q;
  const double peak = disc > 0.0 ? std::fmax(0.0, 0.5 * (-p + std::sqrt(disc))) : 0.0;
  const double half_width = 12.0 * std::sqrt(peak + 1.0) + 40.0;
  const double first = std::fmax(0.0, std::floor(peak - half_width));
  const double last = std::ceil(peak + half_width);
  const double log_x = std::log(x);
  const double offset = std::lgamma(b) - std::lgamma(a);
  double total = -INFINITY;
  for (double n = first; n <= last; n += 1.0) {
    const double log_term = std::lgamma(a + n) - std::lgamma(b + n) - std::lgamma(n + 1.0) + n * log_x + offset;
    total = log_add_exp(total, log_term);
  }
  return total;
}

// log Z(τ, d, T') = log[₁F₁(d/2; 1/2; x) + τ√T'·μ₁·₁F₁((d+1)/2; 3/2; x)], x = τ²T'/2,
// μ₁ = √2·Γ((d+1)/2)/Γ(d/2). Arguments are assumed valid (τ ≥ 0, d ≥ 1, T' > 0).
LATF_HD double log_partition(double tau, int dim, double reduced_temperature) {
  const double d = dim;
  const double x = 0.5 * tau * tau * reduced_temperature;
  const double even = log_hyp1f1_positive(0.5 * d, 0.5, x);
  if (tau == 0.0) return even;
  const double log_mu1 = 0.5 * std::log(2.0) + std::lgamma(0.5 * (d + 1.0)) - std::lgamma(0.5 * d);
  const double odd = std::log(tau) + 0.5 * std::log(reduced_temperature) + log_mu1 +
                     log_hyp1f1_positive(0.5 * (d + 1.0), 1.5, x);
  return log_add_exp(even, odd);
}

LATF_HD double log_normalizer(double tau, int dim, double reduced_temperature) {
  return 0.5 * dim * std::log(6.283185307179586 * reduced_temperature) + log_partition(tau, dim, reduced_temperature);
}

template <class T>
LATF_HD T squared_norm(const T* z, int dim) {
  T sum = T(0);
  for (int j = 0; j < dim; ++j) sum += z[j] * z[j];
  return sum;
}

// τ‖z‖ − ½·b·‖z‖² − c for one row.
template <class T>
LATF_HD T log_density(const T* z, int dim, T tau, T inverse_temperature, T log_normalizer) {
  const T sq = squared_norm(z, dim);
  return tau * std::sqrt(sq) - T(0.5) * inverse_temperature * sq - log_normalizer;
}

// dz += g·(τ·z/‖z‖ − b·z) for one row; at ‖z‖ ≈ 0 the τ term takes its subgradient 0.
template <class T>
LATF_HD void log_density_backward(const T* z, int dim, T tau, T inverse_temperature, T g, T* dz) {
  const T norm = std::sqrt(squared_norm(z, dim));
  const T radial = norm > T(kNormGuard) ? tau / norm : T(0);
  const T factor = g * (radial - inverse_temperature);
  for (int j = 0; j < dim; ++j) dz[j] += factor * z[j];
}

// Philox counter of block `block` of row `row`: rows own disjoint counter ranges (row in the
// high 32 bits), so a row's sample depends only on (seed, stream, row).
LATF_HD rng::Philox4 row_words(std::uint64_t seed, std::uint64_t stream, std::uint64_t row, std::uint64_t block) {
  return rng::random_words(seed, stream, (row << 32) | block);
}

// The d standard normals of a row's direction come from blocks 0 … ⌈d/4⌉−1.
LATF_HD double direction_normal(std::uint64_t seed, std::uint64_t stream, std::uint64_t row, int j) {
  const rng::Philox4 w = row_words(seed, stream, row, static_cast<std::uint64_t>(j / 4));
  double n[2];
  const int k = j % 4;
  rng::normal_pair(w.v[k < 2 ? 0 : 2], w.v[k < 2 ? 1 : 3], &n[0], &n[1]);
  return n[k % 2];
}

// One exact draw of the radius r > 0 from p(r) ∝ r^{d−1}·exp(−(r − m)²/(2T')), m = τT',
// using blocks first_block, first_block+1, … (one per proposal). Returns a negative value when
// kMaxSampleAttempts proposals were all rejected.
//   d = 1: N(m, T') truncated to r > 0: accept every positive proposal.
//   d ≥ 2: with r* the mode, h(r) = log p(r) + (r − r*)²/(2T') = (d−1)·log r + linear(r) is
//   concave with its maximum at r*, so p(r) ≤ p(r*)·exp(−(r − r*)²/(2T')). Propose from
//   N(r*, T') and accept with exp(h(r) − h(r*)) = (r/r*)^{d−1}·exp((m − r*)(r − r*)/T') ≤ 1.
LATF_HD double sample_radius(int dim, double tau, double reduced_temperature, std::uint64_t seed,
                             std::uint64_t stream, std::uint64_t row, std::uint64_t first_block) {
  const double m = tau * reduced_temperature;
  const double sd = std::sqrt(reduced_temperature);
  const double mode = dim == 1 ? m : 0.5 * (m + std::sqrt(m * m + 4.0 * (dim - 1) * reduced_temperature));
  for (int attempt = 0; attempt < kMaxSampleAttempts; ++attempt) {
    const rng::Philox4 w = row_words(seed, stream, row, first_block + attempt);
    double normal, unused;
    rng::normal_pair(w.v[0], w.v[1], &normal, &unused);
    const double r = mode + sd * normal;
    if (r <= 0.0) continue;
    if (dim == 1) return r;
    const double log_accept = (dim - 1) * std::log(r / mode) + (m - mode) * (r - mode) / reduced_temperature;
    if (std::log(rng::uniform_open(w.v[2])) < log_accept) return r;
  }
  return -1.0;
}

// Writes one row of an exact sample: r·n/‖n‖ with n a vector of d standard normals. The normals
// are drawn twice (norm, then output) rather than stored, so the row needs no scratch of size d.
// Returns false when the radius sampler gave up (the row is then filled with NaN).
template <class T>
LATF_HD bool sample_row(T* out, int dim, double tau, double reduced_temperature, std::uint64_t seed,
                        std::uint64_t stream, std::uint64_t row) {
  double sq = 0.0;
  for (int j = 0; j < dim; ++j) {
    const double n = direction_normal(seed, stream, row, j);
    sq += n * n;
  }
  const std::uint64_t radius_block = static_cast<std::uint64_t>((dim + 3) / 4);
  const double r = sample_radius(dim, tau, reduced_temperature, seed, stream, row, radius_block);
  if (r < 0.0) {
    for (int j = 0; j < dim; ++j) out[j] = T(NAN);
    return false;
  }
  // A zero direction vector has probability 0 (Box–Muller radii are > 0); still never divide by 0.
  const double scale = sq > 0.0 ? r / std::sqrt(sq) : 0.0;
  for (int j = 0; j < dim; ++j) out[j] = static_cast<T>(scale * direction_normal(seed, stream, row, j));
  if (!(sq > 0.0)) out[0] = static_cast<T>(r);
  return true;
}

}  // namespace latf::kernels::tilted
