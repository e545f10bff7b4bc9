#pragma once
// Linear layer with fused bias and activation: y = act(x Wᵀ + b).
//   x [N, in], weight [out, in], bias [out], y [N, out].
// Model-stacked form (autodiff/ops.hpp): x [M, N, in], weight [M, out, in], bias [M, out] →
// y [M, N, out], model m computed exactly as the single form on the slices [m].
// CUDA: a fused kernel when in, out ≤ kFusedLinearMaxWidth, cuBLAS plus an epilogue otherwise.
#include "kernels/activation_math.hpp"
#include "kernels/common.hpp"

namespace latf::kernels {

constexpr int kFusedLinearMaxWidth = 64;

enum class LinearPath { Auto, Fused, Cublas };  // CUDA only; the CPU has one path

void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act, float alpha,
                    Tensor& y, LinearPath path = LinearPath::Auto);

// Needs the forward's output y (see activation_slope). Accumulates into dx, dweight, dbias.
void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& y, const Tensor& dy, Activation act,
                     float alpha, Tensor& dx, Tensor& dweight, Tensor& dbias);

}  // namespace latf::kernels
