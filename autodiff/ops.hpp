#pragma once
// Differentiable ops on the tape. Each op computes its value through kernels/ (whatever the
// device) and, when any input requires a gradient, records a node whose backward rule sits in
// the same source file as the forward. Optional inputs are passed as an invalid Var{}.
#include "autodiff/tape.hpp"
#include "kernels/activation_math.hpp"
#include "kernels/coupling.hpp"
#include "kernels/mlp.hpp"

namespace latf::autodiff {

// Model-stacked form (batched models, docs/batched_models.md): M independent models of one
// architecture train in one pass, every per-model operand carrying a leading model dimension M.
// An op sees the stacked form from its per-model operands' rank (one more than below) and then
// computes, for every m, exactly what it computes on the slices [m] in the single form; the
// operands marked "shared" keep their single-form shape and serve every model. Stacked shapes:
//   linear            x [M,N,in], weight [M,out,in], bias [M,out]               → [M,N,out]
//   mlp               x [M,N,in], params [M,size]                                → [M,N,out]
//   coupling          x [M,N,d], mask [d] shared, scale/shift params [M,size], a [M,d]
//                                                                   → y [M,N,d], log_det [M,N]
//   tilted (taus)     z [M,N,d], inverse_temperature [M,N], log_normalizer [M,N]/none → [M,N]
//   log_softmax       logits [M,N,K]                                             → [M,N,K]
//   cross entropy     logits [M,N,K], targets [M,N,K], weights [M,N]/none        → [M] (per-model mean)
//   reparameterize    mean, noise [M,N,d], log_variance [M,1] or [M,N,d]         → [M,N,d]
//   gaussian density  u, mean [M,N,d], log_variance [M,1] or [M,N,d]             → [M,N]
//   vamp density      u [M,N,d], means [M,K,d], log_variance [M,1] or [M,K,d], mixture_logits [M,K] → [M,N]
//   model_weighted_mean x [M,...], weights like x or none                        → [M]
// Elementwise ops (scaled_sigmoid, axpby) are shape-agnostic already. The CPU runs each model's
// slice through the single-form code (so a stacked op equals M single ops bit for bit); CUDA
// kernels take the model as a grid dimension, one launch for all models.

// y = act(x Wᵀ + b); x [N,in], weight [out,in], bias [out].
Var linear(Tape& tape, Var x, Var weight, Var bias, kernels::Activation act = kernels::Activation::Identity,
           float alpha = 0.01f);

// The fused conditioner MLP in→h→h→out with LeakyReLU(alpha) hidden layers; params packed as
// in kernels::MlpShape.
Var mlp(Tape& tape, Var x, Var params, const kernels::MlpShape& shape, float alpha = 0.01f);
// The same MLP with its six operands as separate tensors, laid out as three linear layers:
// w1 [h,in], b1 [h], w2 [h,h], b2 [h], w3 [out,h], b3 [out] (stacked: x [M,N,in], each operand
// [M, ...] → [M,N,out]). Equals linear → linear → linear with LeakyReLU(alpha) on the hidden layers
// (alpha = 0: ReLU), its test oracle; on CUDA one fused kernel per direction (kernels/mlp.hpp).
Var mlp_layers(Tape& tape, Var x, Var w1, Var b1, Var w2, Var b2, Var w3, Var b3, float alpha);

// One affine coupling layer (METHOD.md §4) in spec.direction: y [N,d] and log|det J| [N].
struct CouplingOutputs {
  Var y;
  Var log_det;
};
CouplingOutputs coupling(Tape& tape, Var x, Var mask, Var scale_params, Var shift_params, Var scale_vector,
                         const kernels::CouplingSpec& spec);

// The whole RealNVP stack of L coupling layers in one op (kernels/coupling_stack.hpp): equal to
// the chain of L `coupling` ops (its test oracle), but fused — on CUDA one kernel per direction
// runs every layer of a row, and the backward pass recomputes the layers' inputs instead of
// storing them. `flow_params` is the flow's whole flat parameter buffer in RealNvp's layout
// (layer l: scale net, shift net, a; each [size] or stacked [M, size] / [M, d]); masks [L, d]
// (shared). spec.direction = Generative applies g_1 … g_L, Normalizing g_L⁻¹ … g_1⁻¹.
// y [N,d] (stacked [M,N,d]) and the summed log|det| [N] (stacked [M,N]).
CouplingOutputs coupling_stack(Tape& tape, Var x, Var masks, Var flow_params, const kernels::CouplingSpec& spec,
                               int layers);

// log r(z_i; τ, T'_i) with inverse_temperature b_i = 1/T'_i per row and an optional per-row
// log-normaliser c_i (see kernels/tilted.hpp); gradient flows to z only. Output [N].
Var tilted_log_density(Tape& tape, Var z, Var inverse_temperature, Var log_normalizer, float tau);

// Stacked form with one tilt per model: taus [M] (float32, on z's device; read there, so a GPU
// step needs no host copy). Output [M,N].
Var tilted_log_density(Tape& tape, Var z, Var inverse_temperature, Var log_normalizer, const Tensor& taus);

// Row-wise log-softmax of logits [N,K].
Var log_softmax(Tape& tape, Var logits);
// (1/N) Σ_i w_i Σ_k −y_ik log softmax(logits_i)_k; targets [N,K], weights [N] optional. Output [1].
Var weighted_cross_entropy(Tape& tape, Var logits, Var targets, Var weights);

// u = mean + exp(½ log_variance) ⊙ noise; log_variance [1] or [N,d]. noise is a constant.
Var reparameterize(Tape& tape, Var mean, Var log_variance, Var noise);
// −½ Σ_j (log σ²_j + (u_j − μ_j)²/σ²_j) per row (the −(d/2) log 2π constant left out). Output [N].
Var gaussian_log_density(Tape& tape, Var u, Var mean, Var log_variance);
// log Σ_k softmax(mixture_logits)_k N(u; means_k, σ²) with the same constant left out; means
// [K,d], log_variance [1] or [K,d], mixture_logits [K]. Output [N].
Var vamp_log_density(Tape& tape, Var u, Var means, Var log_variance, Var mixture_logits);

// scale · Σ_i w_i x_i over all elements of x (weights optional, same shape as x). Output [1].
Var weighted_sum(Tape& tape, Var x, Var weights, double scale = 1.0);
// (1/N) Σ_i w_i x_i with N = number of elements of x.
Var weighted_mean(Tape& tape, Var x, Var weights);

// scale · sigmoid(x), elementwise.
Var scaled_sigmoid(Tape& tape, Var x, double scale);

// Per-model weighted mean: out_m = (1/n) Σ_i w_mi x_mi over the n = numel(x)/M elements of
// model m's slice x[m] (weights optional, same shape as x). x [M, ...] → [M].
Var model_weighted_mean(Tape& tape, Var x, Var weights);

// alpha·a + beta·b, elementwise (same shapes).
Var axpby(Tape& tape, double alpha, Var a, double beta, Var b);

// The loss's prior terms as single fused ops (kernels/prior_terms.hpp), equal to their chains:
// vamp_kl_term = weighted_mean(axpby(1, gaussian_log_density(u, mean, log_variance), −1,
//   vamp_log_density(u, means, component_log_variance, mixture_logits)), weights);
// tilted_nll_term = weighted_mean(axpby(−1, tilted_log_density(z, inverse_temperature, none, τ),
//   −1, log_det), weights), log_det optional (Var{}: an identity flow). Output [1]; stacked [M]
// with the model_weighted_mean normalisation. weights (optional) are data and must not require a
// gradient; inverse_temperature receives none (as in tilted_log_density).
Var vamp_kl_term(Tape& tape, Var u, Var mean, Var log_variance, Var means, Var component_log_variance,
                 Var mixture_logits, Var weights);
Var tilted_nll_term(Tape& tape, Var z, Var log_det, Var inverse_temperature, float tau, Var weights);
// Stacked form with one tilt per model: taus [M] (float32, on z's device).
Var tilted_nll_term(Tape& tape, Var z, Var log_det, Var inverse_temperature, const Tensor& taus, Var weights);

}  // namespace latf::autodiff
