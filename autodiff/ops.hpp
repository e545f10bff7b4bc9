#pragma once
// Differentiable ops on the tape. Each op computes its value through kernels/ (whatever the
// device) and, when any input requires a gradient, records a node whose backward rule sits in
// the same source file as the forward. Optional inputs are passed as an invalid Var{}.
#include "autodiff/tape.hpp"
#include "kernels/activation_math.hpp"
#include "kernels/coupling.hpp"
#include "kernels/mlp.hpp"

namespace latf::autodiff {

// y = act(x Wᵀ + b); x [N,in], weight [out,in], bias [out].
Var linear(Tape& tape, Var x, Var weight, Var bias, kernels::Activation act = kernels::Activation::Identity,
           float alpha = 0.01f);

// The fused conditioner MLP in→h→h→out with LeakyReLU(alpha) hidden layers; params packed as
// in kernels::MlpShape.
Var mlp(Tape& tape, Var x, Var params, const kernels::MlpShape& shape, float alpha = 0.01f);

// One affine coupling layer (METHOD.md §4) in spec.direction: y [N,d] and log|det J| [N].
struct CouplingOutputs {
  Var y;
  Var log_det;
};
CouplingOutputs coupling(Tape& tape, Var x, Var mask, Var scale_params, Var shift_params, Var scale_vector,
                         const kernels::CouplingSpec& spec);

// log r(z_i; τ, T'_i) with inverse_temperature b_i = 1/T'_i per row and an optional per-row
// log-normaliser c_i (see kernels/tilted.hpp); gradient flows to z only. Output [N].
Var tilted_log_density(Tape& tape, Var z, Var inverse_temperature, Var log_normalizer, float tau);

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

// alpha·a + beta·b, elementwise (same shapes).
Var axpby(Tape& tape, double alpha, Var a, double beta, Var b);

}  // namespace latf::autodiff
