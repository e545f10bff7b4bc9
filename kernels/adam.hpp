#pragma once
// Adam with PyTorch's torch.optim.Adam semantics: bias-corrected moments, ε added to √v̂, and
// weight_decay as an L2 term added to the gradient. Operates on flat buffers (the whole
// parameter set at once: one CUDA launch per step).
#include <cstdint>

#include "kernels/adam_math.hpp"  // AdamConfig
#include "kernels/common.hpp"
#include "kernels/permutation.hpp"  // Indices

namespace latf::kernels {

// Throws InvalidArgument naming the field unless lr ≥ 0, β1, β2 ∈ [0, 1), ε > 0, weight_decay ≥ 0
// (all finite).
void validate(const AdamConfig& config);

// One update of every element; `step` counts updates from 1 (the bias corrections use it).
// params, grads and both moments share one shape, device and dtype; the moments start at 0.
void adam_step(Tensor& params, const Tensor& grads, Tensor& first_moment, Tensor& second_moment,
               const AdamConfig& config, std::int64_t step);

// ---- M stacked models in one flat buffer -------------------------------------------------------
// Every parameter of a stacked buffer is [M, ...]; model m owns the slice [m] of each of them.
// One call updates every model with its own learning rate and its own step count, with no host
// transfer or synchronisation (a CUDA Graph can capture it): first steps[m] += 1 and the
// model's coefficients are computed from (learning_rates[m], steps[m]) on the device, then one
// launch over the whole buffer finds each element's model in the segment table.
//   params, grads, moments: one flat shape, device and dtype
//   learning_rates: [M] float32 on that device (config.learning_rate is ignored). They are not
//     checked here, reading them would cost a host copy: the caller checks them when it sets them.
//   steps: M int64 step counts (0 before a model's first update), on that device
//   segments: (offset, per-model size) pairs, one per non-empty parameter in offset order, that
//     cover the buffer exactly (stacked_model_of in adam_math.hpp); on that device
//   coefficients: [M, kAdamCoefficientFields] scratch of the params' dtype, on that device
// On the CPU every element gets exactly the arithmetic of adam_step with its model's rate and
// step count, so model m's slice evolves bit for bit like a single-model buffer under adam_step.
void adam_step_models(Tensor& params, const Tensor& grads, Tensor& first_moment, Tensor& second_moment,
                      const AdamConfig& config, const Tensor& learning_rates, Indices& steps,
                      const Indices& segments, Tensor& coefficients);

// steps[first, first + count) = 0, in place on their device (a captured graph keeps pointers).
void zero_steps(Indices& steps, std::int64_t first, std::int64_t count);

}  // namespace latf::kernels
