#pragma once
// The fully fused conditioner MLP of the coupling layers:
//   y = W3·φ(W2·φ(W1·x + b1) + b2) + b3,  φ = LeakyReLU(alpha),
// with all weights packed in ONE parameter tensor, in this order (row-major matrices):
//   W1 [h, in] | b1 [h] | W2 [h, h] | b2 [h] | W3 [out, h] | b3 [out].
// CUDA: one kernel per direction; hidden activations stay in registers/shared memory, and the
// backward pass recomputes them instead of storing [N, 2h] activations. Hidden widths 16, 32
// and 64 with in, out ≤ kMlpMaxFusedEnds have fused CUDA kernels (template parameter); other widths are rejected on CUDA with
// an error that names the unfused alternative (autodiff::linear layers).
#include "engine/hd.hpp"
#include "kernels/common.hpp"

namespace latf::kernels {

constexpr float kConditionerSlope = 0.01f;  // LeakyReLU slope of the reference conditioners
constexpr int kMlpMaxFusedEnds = 16;        // largest in/out width of the fused CUDA kernels

struct MlpShape {
  int in = 0, hidden = 0, out = 0;
  LATF_HD std::int64_t weight1() const { return 0; }
  LATF_HD std::int64_t bias1() const { return std::int64_t(hidden) * in; }
  LATF_HD std::int64_t weight2() const { return bias1() + hidden; }
  LATF_HD std::int64_t bias2() const { return weight2() + std::int64_t(hidden) * hidden; }
  LATF_HD std::int64_t weight3() const { return bias2() + hidden; }
  LATF_HD std::int64_t bias3() const { return weight3() + std::int64_t(out) * hidden; }
  LATF_HD std::int64_t size() const { return bias3() + out; }
};

// True when the CUDA backend has a fused kernel for this shape.
bool mlp_fused_cuda_supported(const MlpShape& shape);

// x [N, in] → y [N, out]. Model-stacked form (autodiff/ops.hpp): x [M, N, in], params [M, size]
// → y [M, N, out] (and gradients of the operands' shapes), model m exactly as the single form.
void mlp_forward(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, Tensor& y);
// Accumulates into dx [N, in] and dparams [size] (either may be undefined).
void mlp_backward(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, const Tensor& dy,
                  Tensor& dx, Tensor& dparams);

}  // namespace latf::kernels
