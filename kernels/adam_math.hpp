#pragma once
// One element of torch.optim.Adam's update (amsgrad off, maximize off), shared by the CPU loop
// and the CUDA kernel. The per-step scalars (bias corrections) are computed once on the host.
#include <cmath>

#include "engine/hd.hpp"

namespace latf::kernels {

template <class T>
struct AdamCoefficients {
  T beta1, beta2, epsilon, weight_decay;
  T step_size;              // lr / (1 − β1^t)
  T bias_correction2_sqrt;  // √(1 − β2^t)
};

// weight decay is PyTorch's L2 form (added to the gradient, not decoupled as in AdamW);
// ε is added to √v̂, not to v̂.
template <class T>
LATF_HD void adam_update(T& param, T grad, T& m, T& v, const AdamCoefficients<T>& c) {
  if (c.weight_decay != T(0)) grad += c.weight_decay * param;
  m += (T(1) - c.beta1) * (grad - m);  // PyTorch's lerp form of β1·m + (1 − β1)·g
  v = c.beta2 * v + (T(1) - c.beta2) * grad * grad;
  const T denom = std::sqrt(v) / c.bias_correction2_sqrt + c.epsilon;
  param -= c.step_size * m / denom;
}

}  // namespace latf::kernels
