#pragma once
// Row-wise log-softmax and the fused weighted cross-entropy of the SPIB reconstruction term.
//   logits [N, K] (K ≥ 1), targets [N, K] (one-hot or soft; any non-negative float values),
//   weights [N] or undefined (every w_i = 1), loss [1].
// Weights are not checked for sign: the models layer validates them; a negative weight simply
// enters the formula.
// CUDA: one thread per row for the row loops; the scalar loss is a CUB reduction over rows.
//
// Model-stacked form (autodiff/ops.hpp), seen from the rank of logits (3): logits, targets
// [M, N, K], weights [M, N] or undefined, loss and dloss [M]; model m's loss is the mean over its
// own N rows, exactly the single form on the slices [m] (the CPU runs the single-form code on
// them, so the results are equal bit for bit). log_softmax treats [M, N, K] as M·N independent
// rows. CUDA: one launch for all models; the per-model losses are one CUB segmented reduction
// (a segment per model, summed in double).
#include "kernels/common.hpp"

namespace latf::kernels {

// out_ik = logits_ik − log Σ_j exp(logits_ij), computed stably (row max subtracted). N may be 0.
void log_softmax_forward(const Tensor& logits, Tensor& out);
// dlogits += dout − softmax · Σ_k dout (softmax recovered as exp(out), out from the forward).
void log_softmax_backward(const Tensor& out, const Tensor& dout, Tensor& dlogits);

// loss = (1/N) Σ_i w_i Σ_k −y_ik log_softmax(logits_i)_k, without an [N, K] buffer. N = 0 throws.
void weighted_cross_entropy_forward(const Tensor& logits, const Tensor& targets, const Tensor& weights,
                                    Tensor& loss);
// dlogits_ik += dloss · (w_i / N) · (softmax_ik Σ_k y_ik − y_ik). dloss [1] is read where it lives
// (on the device for CUDA, no host synchronisation). Targets and weights get no gradient.
void weighted_cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& weights,
                                     const Tensor& dloss, Tensor& dlogits);

}  // namespace latf::kernels
