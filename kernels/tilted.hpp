#pragma once
// The exponentially tilted, temperature-steerable Gaussian prior (METHOD.md §5):
//   log r(z; τ, T') = τ‖z‖ − ‖z‖²/(2T') − (d/2)·log(2πT') − log Z(τ, d, T'),  z ∈ ℝ^d.
// The density op works per row with an inverse temperature b_i = 1/T'_i (the temperature weight
// of METHOD §2/§6) and an optional log-normaliser c_i; the sampler draws exact samples.
#include <cstdint>

#include "kernels/common.hpp"

namespace latf::kernels {

// log Z(τ, d, T'), evaluated in log space (finite for any τ²T'). Requires τ ≥ 0, d ≥ 1, T' > 0.
double tilted_log_partition(double tau, int dim, double reduced_temperature);

// (d/2)·log(2πT') + log Z: the c_i that makes tilted_log_density_forward the normalised log r.
double tilted_log_normalizer(double tau, int dim, double reduced_temperature);

// out_i = τ‖z_i‖ − ½·b_i·‖z_i‖² − c_i;  z [N,d], inverse_temperature b [N], log_normalizer c [N]
// or undefined (c = 0: then out is minus the training energy of METHOD §6), out [N].
// b_i > 0 is NOT checked here (that would cost a device-to-host pass per call): callers
// validate their temperatures once, where they are made.
void tilted_log_density_forward(const Tensor& z, const Tensor& inverse_temperature, const Tensor& log_normalizer,
                                float tau, Tensor& out);

// dz += dout_i·(τ·z_i/‖z_i‖ − b_i·z_i). At ‖z_i‖ ≈ 0 (below 1e-30) the τ term uses the
// subgradient 0, so the gradient stays finite. b and c receive no gradient. dz undefined: no-op.
void tilted_log_density_backward(const Tensor& z, const Tensor& inverse_temperature, float tau, const Tensor& dout,
                                 Tensor& dz);

// Model-stacked form with one tilt per model (autodiff/ops.hpp): z [M,N,d], inverse_temperature
// [M,N], log_normalizer [M,N] or undefined, taus [M] (float32, on z's device), out and dout [M,N].
// Model m computes the single form on the slices [m] with tau = taus[m]. The CPU reads taus on
// the host (and rejects a non-finite one) and runs the single-form code on each slice, so the
// results equal M single calls bit for bit; CUDA reads taus on the device (no host copy, hence no
// check there) in one launch with the model as blockIdx.y.
void tilted_log_density_forward(const Tensor& z, const Tensor& inverse_temperature, const Tensor& log_normalizer,
                                const Tensor& taus, Tensor& out);
void tilted_log_density_backward(const Tensor& z, const Tensor& inverse_temperature, const Tensor& taus,
                                 const Tensor& dout, Tensor& dz);

// Fills z [N,d] with N exact independent samples of r(·; τ, T'): a uniform direction times a
// radius drawn from ∝ r^{d−1}·exp(τr − r²/(2T')) by rejection (kernels/tilted_math.hpp). Row i
// depends only on (seed, stream, i), so the CPU (float32 or float64) and CUDA agree, and a
// larger N extends a smaller one. Throws BackendError if a row exhausted its proposals (a bug).
void tilted_sample(Tensor& z, double tau, double reduced_temperature, std::uint64_t seed, std::uint64_t stream);

// One batch of a longer stream: z's row r holds row first_row + r of (seed, stream), so batches
// of any size concatenate to the same samples (first_row + N ≤ 2³²). Rows whose sampler gave up
// are added to failed [1] (float32, z's device) instead of thrown: a loop of batches on a GPU
// then reads the device once, at its end.
void tilted_sample_rows(Tensor& z, double tau, double reduced_temperature, std::uint64_t seed, std::uint64_t stream,
                        std::uint64_t first_row, Tensor& failed);

}  // namespace latf::kernels
