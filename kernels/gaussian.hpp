#pragma once
// The Gaussian family of the SPIB part (METHOD.md §3): the reparameterised sample, the encoder's
// diagonal-Gaussian log-density and the VampPrior mixture log-density. Formulas: gaussian_math.hpp.
// No log-density includes the −(d/2)·log 2π constant (it cancels in the KL term).
//
// log_variance is either [1] (one scalar shared by every element, the reference's learned
// log σ²) or per element: [N,d] for the first two ops, [K,d] (per component) for the VampPrior.
// Backward kernels accumulate; a [1] log_variance gradient receives the sum over all elements.
//
// Model-stacked form (autodiff/ops.hpp): every operand gains a leading model dimension M, seen
// from the rank of mean (reparameterize) or u (the densities): mean, noise, u [M,N,d]; means
// [M,K,d]; mixture_logits [M,K]; outputs [M,N]; log_variance [M,1] (one learned scalar per model)
// or [M,N,d] / [M,K,d]. Model m computes exactly the single form on the slices [m] (on the CPU it
// runs the single-form code on them, so the results are equal bit for bit); CUDA launches once
// for all models with the model as blockIdx.y, and every reduction stays inside its model.
#include "kernels/common.hpp"

namespace latf::kernels {

// u = mean + exp(½·log_variance)·noise; mean, noise, u [N,d].
void reparameterize_forward(const Tensor& mean, const Tensor& log_variance, const Tensor& noise, Tensor& u);
// dmean += du; dlog_variance += ½·exp(½·log_variance)·noise·du (summed for a [1] log_variance).
// The noise is a constant and receives nothing.
void reparameterize_backward(const Tensor& log_variance, const Tensor& noise, const Tensor& du, Tensor& dmean,
                             Tensor& dlog_variance);

// out_i = −½ Σ_j (lv_ij + (u_ij − mean_ij)²·exp(−lv_ij)); u, mean [N,d], out [N].
void gaussian_log_density_forward(const Tensor& u, const Tensor& mean, const Tensor& log_variance, Tensor& out);
void gaussian_log_density_backward(const Tensor& u, const Tensor& mean, const Tensor& log_variance,
                                   const Tensor& dout, Tensor& du, Tensor& dmean, Tensor& dlog_variance);

// out_i = log Σ_k softmax(mixture_logits)_k · N(u_i; means_k, σ²_k) without the 2π constant;
// u [N,d], means [K,d], log_variance [1] or [K,d], mixture_logits [K] (K ≥ 1), out [N].
// Evaluated with a max-shifted log-sum-exp, so components far from u (‖u − mean‖ in the hundreds)
// neither overflow nor make the sum vanish.
void vamp_log_density_forward(const Tensor& u, const Tensor& means, const Tensor& log_variance,
                              const Tensor& mixture_logits, Tensor& out);
// Recomputes each row's log-density, then uses the responsibilities γ_ik (softmax over k of the
// component terms): dmixture_logits_k += Σ_i dout_i (γ_ik − π_k), and the component gradients
// are γ-weighted Gaussian gradients.
void vamp_log_density_backward(const Tensor& u, const Tensor& means, const Tensor& log_variance,
                               const Tensor& mixture_logits, const Tensor& dout, Tensor& du, Tensor& dmeans,
                               Tensor& dlog_variance, Tensor& dmixture_logits);

}  // namespace latf::kernels
