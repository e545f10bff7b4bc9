#pragma once
// Adam with PyTorch's torch.optim.Adam semantics: bias-corrected moments, ε added to √v̂, and
// weight_decay as an L2 term added to the gradient. Operates on flat buffers (the whole
// parameter set at once: one CUDA launch per step).
#include <cstdint>

#include "kernels/common.hpp"

namespace latf::kernels {

struct AdamConfig {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float weight_decay = 0.f;
};

// Throws InvalidArgument naming the field unless lr ≥ 0, β1, β2 ∈ [0, 1), ε > 0, weight_decay ≥ 0
// (all finite).
void validate(const AdamConfig& config);

// One update of every element; `step` counts updates from 1 (the bias corrections use it).
// params, grads and both moments share one shape, device and dtype; the moments start at 0.
void adam_step(Tensor& params, const Tensor& grads, Tensor& first_moment, Tensor& second_moment,
               const AdamConfig& config, std::int64_t step);

}  // namespace latf::kernels
