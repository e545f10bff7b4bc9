#pragma once
// The whole RealNVP stack of L affine coupling layers (coupling.hpp) as one fused op per
// direction. It computes exactly the chain of L coupling layers — generatively g_1 … g_L, when
// normalizing g_L⁻¹ … g_1⁻¹, log-dets summed — but each row runs through every layer in one
// pass, and backward recomputes a row's layer inputs instead of storing [L, N, d] activations.
// The per-row algorithm lives once in coupling_stack_math.hpp; the CPU loops over rows, CUDA runs
// one thread per row with the model's parameters staged in shared memory when they fit.
//
// Operands (single form): x [N, d]; masks [L, d] (entries 0/1); flow_params the flow's flat
// buffer in RealNvp's layout, for l = 0 … L−1: scale net [size] | shift net [size] | a [d] with
// size = spec.net().size(). Outputs y [N, d], log_det [N].
// Model-stacked form (autodiff/ops.hpp), detected from x [M, N, d]: every per-model parameter is
// [M, …], so layer l's block is scale [M, size] | shift [M, size] | a [M, d]; masks stay [L, d]
// (shared); y [M, N, d], log_det [M, N]. Model m is computed exactly as the single form.
// Limits: 1 ≤ L ≤ kCouplingStackMaxLayers, d ≤ kCouplingMaxDim; hidden ≤ kCouplingStackMaxHidden
// on the CPU, and 16, 32 or 64 on CUDA (float32 only there).
#include "kernels/common.hpp"
#include "kernels/coupling.hpp"
#include "kernels/coupling_math.hpp"

namespace latf::kernels {

constexpr int kCouplingStackMaxLayers = 32;   // L: a row's backward keeps its L layer inputs on chip
constexpr int kCouplingStackMaxHidden = 128;  // h on the CPU (local arrays); CUDA takes 16, 32, 64

// Elements of flow_params: L · M · (2·size + d), with M = 1 in the single form.
std::int64_t coupling_stack_params_size(const CouplingSpec& spec, int layers, std::int64_t models = 1);

void coupling_stack_forward(const Tensor& x, const Tensor& masks, const Tensor& flow_params, const CouplingSpec& spec,
                            int layers, Tensor& y, Tensor& log_det);

// dy (like x) and dlog_det (like log_det) may be undefined (= zero); accumulates into the defined
// ones of dx (like x) and dflow_params (like flow_params).
void coupling_stack_backward(const Tensor& x, const Tensor& masks, const Tensor& flow_params,
                             const CouplingSpec& spec, int layers, const Tensor& dy, const Tensor& dlog_det,
                             Tensor& dx, Tensor& dflow_params);

}  // namespace latf::kernels
