#pragma once
// The loss's prior terms, each one density fused with its weighted mean (issue 5):
//   vamp_kl_term   loss = (1/N) Σ_i w_i [log q(u_i|x_i) − log r_vamp(u_i)]            (SPIB phase)
//   tilted_nll_term loss = (1/N) Σ_i w_i [−log r_tilted(z_i; τ, b_i) − log|det|_i]  (joint phase)
// equal to the chains weighted_mean(axpby(gaussian_log_density, vamp_log_density)) and
// weighted_mean(axpby(tilted_log_density (no normaliser), log_det)) of models/loss.cpp; per-row
// formulas: prior_terms_math.hpp (built on gaussian_math.hpp / tilted_math.hpp).
//
// Operands as the density ops take them (kernels/gaussian.hpp, kernels/tilted.hpp): u, mean [N,d];
// log_variance [1] or [N,d]; means [K,d]; component_log_variance [1] or [K,d]; mixture_logits
// [K]; z [N,d]; inverse_temperature b [N]; log_det [N] or undefined (0); weights [N] or undefined
// (every w_i = 1); loss and dloss [1]. N ≥ 1. Weights and temperatures are data: no gradient.
//
// Model-stacked form, seen from the rank of u / z (3): every operand gains a leading M (log-
// variances [M,1] or [M,N,d] / [M,K,d], taus [M] float32 on z's device), loss and dloss [M] with
// model m's term normalised by its own N (model_weighted_mean). The CPU runs the single-form code
// on each slice (bit-equal to M single calls); CUDA runs all models in one launch per kernel.
//
// CPU: one pass over the rows with the shared row formulas, the sum over rows in double. CUDA
// forward: a CUB reduction (per-model segments, in double) whose term functor evaluates each
// row's densities (kernels/model_sums.cuh), after one small kernel for the VampPrior's per-call
// constants; backward: one kernel writing every input gradient (again after the constants kernel
// for the VampPrior), the row-shared gradients staged in shared memory and flushed once per block.
#include "kernels/common.hpp"

namespace latf::kernels {

void vamp_kl_term_forward(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const Tensor& means,
                          const Tensor& component_log_variance, const Tensor& mixture_logits, const Tensor& weights,
                          Tensor& loss);
// Accumulates into every defined gradient (undefined = not needed). dloss is read where it lives.
void vamp_kl_term_backward(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const Tensor& means,
                           const Tensor& component_log_variance, const Tensor& mixture_logits, const Tensor& weights,
                           const Tensor& dloss, Tensor& du, Tensor& dmean, Tensor& dlog_variance, Tensor& dmeans,
                           Tensor& dcomponent_log_variance, Tensor& dmixture_logits);

// Single form: one finite tau.
void tilted_nll_term_forward(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature, float tau,
                             const Tensor& weights, Tensor& loss);
void tilted_nll_term_backward(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature, float tau,
                              const Tensor& weights, const Tensor& dloss, Tensor& dz, Tensor& dlog_det);

// Stacked form: z [M,N,d], taus [M] (the CPU rejects a non-finite tau; CUDA reads taus on the device).
void tilted_nll_term_forward(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature,
                             const Tensor& taus, const Tensor& weights, Tensor& loss);
void tilted_nll_term_backward(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature,
                              const Tensor& taus, const Tensor& weights, const Tensor& dloss, Tensor& dz,
                              Tensor& dlog_det);

}  // namespace latf::kernels
