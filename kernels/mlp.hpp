#pragma once
// The fully fused 3-layer MLP:
//   y = W3·φ(W2·φ(W1·x + b1) + b2) + b3,  φ = LeakyReLU(alpha)  (alpha = 0: ReLU),
// with its six operands W1 [h, in], b1 [h], W2 [h, h], b2 [h], W3 [out, h], b3 [out] either
// packed in ONE parameter tensor (the coupling conditioners), in this order (row-major matrices):
//   W1 [h, in] | b1 [h] | W2 [h, h] | b2 [h] | W3 [out, h] | b3 [out],
// or as six separate tensors (the SPIB encoder and decoder, mlp_layers_* below). Both forms run
// the same CPU and CUDA code, which reaches the operands through MlpOperands.
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
  // Operand k (0..5 = W1, b1, W2, b2, W3, b3): its offset in the packed layout and its size.
  LATF_HD std::int64_t offset(int k) const {
    switch (k) {
      case 0: return weight1();
      case 1: return bias1();
      case 2: return weight2();
      case 3: return bias2();
      case 4: return weight3();
      default: return bias3();
    }
  }
  LATF_HD std::int64_t count(int k) const { return (k + 1 < 6 ? offset(k + 1) : size()) - offset(k); }
};

// Where the six operands of an MLP live, for every model: model m's operand k starts at
// part[k] + m · model_stride[k] (strides 0 in the single form). T = const float, float, double...
template <class T>
struct MlpOperands {
  static constexpr int kCount = 6;
  T* part[kCount] = {};
  std::int64_t model_stride[kCount] = {};
  // Model m's operands (single-form view: strides 0).
  LATF_HD MlpOperands model(std::int64_t m) const {
    MlpOperands r;
    for (int k = 0; k < kCount; ++k) r.part[k] = part[k] == nullptr ? nullptr : part[k] + m * model_stride[k];
    return r;
  }
};

// The operands of a packed parameter buffer (null stays null: every part undefined), models
// `model_stride` elements apart.
template <class T>
LATF_HD MlpOperands<T> packed_operands(T* params, const MlpShape& s, std::int64_t model_stride = 0) {
  MlpOperands<T> r;
  for (int k = 0; k < MlpOperands<T>::kCount; ++k) {
    r.part[k] = params == nullptr ? nullptr : params + s.offset(k);
    r.model_stride[k] = model_stride;
  }
  return r;
}

// True when the CUDA backend has a fused kernel for this shape.
bool mlp_fused_cuda_supported(const MlpShape& shape);

// x [N, in] → y [N, out]. Model-stacked form (autodiff/ops.hpp): x [M, N, in], params [M, size]
// → y [M, N, out] (and gradients of the operands' shapes), model m exactly as the single form.
void mlp_forward(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, Tensor& y);
// Accumulates into dx [N, in] and dparams [size] (either may be undefined).
void mlp_backward(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, const Tensor& dy,
                  Tensor& dx, Tensor& dparams);

// The separate form: six tensors W1 [h, in], b1 [h], W2 [h, h], b2 [h], W3 [out, h], b3 [out]
// (the layout of three linear layers), stacked [M, ...] each when x is [M, N, in]. The widths
// come from W1 and W3. alpha = 0 gives ReLU hidden layers.
struct MlpLayers {
  Tensor weight1, bias1, weight2, bias2, weight3, bias3;
  const Tensor& operator[](int k) const;
  Tensor& operator[](int k);
  // in, hidden, out from W1 [.., h, in] and W3 [.., out, h] (zeros where those are malformed).
  MlpShape shape() const;
};
// The operand names used in messages: "mlp_layers weight1 (W1)" ...
const char* mlp_layer_name(int k);

void mlp_layers_forward(const Tensor& x, const MlpLayers& layers, float alpha, Tensor& y);
// Accumulates into dx and every defined tensor of grads (each shaped like its operand).
void mlp_layers_backward(const Tensor& x, const MlpLayers& layers, float alpha, const Tensor& dy, Tensor& dx,
                         MlpLayers& grads);

}  // namespace latf::kernels
