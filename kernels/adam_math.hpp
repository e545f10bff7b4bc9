#pragma once
// One element of torch.optim.Adam's update (amsgrad off, maximize off) and the per-step scalars
// it needs, shared by the CPU loops and the CUDA kernels. The single Adam computes the scalars
// on the host once per step; the stacked-models Adam computes one set per model on the device
// (so that a step needs no host transfer) with the very same function.
#include <cmath>
#include <cstdint>

#include "engine/hd.hpp"

namespace latf::kernels {

struct AdamConfig {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float weight_decay = 0.f;
};

template <class T>
struct AdamCoefficients {
  T beta1, beta2, epsilon, weight_decay;
  T step_size;              // lr / (1 − β1^t)
  T bias_correction2_sqrt;  // √(1 − β2^t)
};
// The stacked Adam keeps one AdamCoefficients<T> per model in a tensor of T with this many
// columns, read back through a pointer cast: the struct must be exactly these fields, unpadded.
constexpr int kAdamCoefficientFields = 6;
static_assert(sizeof(AdamCoefficients<float>) == kAdamCoefficientFields * sizeof(float));
static_assert(sizeof(AdamCoefficients<double>) == kAdamCoefficientFields * sizeof(double));

// Bias corrections in double, as PyTorch computes them (in Python floats) before the update,
// then rounded once to T. `learning_rate` replaces config.learning_rate (the caller's schedule).
template <class T>
LATF_HD AdamCoefficients<T> adam_coefficients(const AdamConfig& config, float learning_rate, std::int64_t step) {
  const double t = static_cast<double>(step);
  const double correction1 = 1.0 - std::pow(double(config.beta1), t);
  const double correction2 = 1.0 - std::pow(double(config.beta2), t);
  return {T(config.beta1),
          T(config.beta2),
          T(config.epsilon),
          T(config.weight_decay),
          static_cast<T>(double(learning_rate) / correction1),
          static_cast<T>(std::sqrt(correction2))};
}

// weight decay is PyTorch's L2 form (added to the gradient, not decoupled as in AdamW);
// ε is added to √v̂, not to v̂.
template <class T>
LATF_HD void adam_update(T& param, T grad, T& m, T& v, const AdamCoefficients<T>& c) {
  if (c.weight_decay != T(0)) grad += c.weight_decay * param;
  m += (T(1) - c.beta1) * (grad - m);  // PyTorch's lerp form of β1·m + (1 − β1)·g
  v = c.beta2 * v + (T(1) - c.beta2) * grad * grad;
  const T denom = std::sqrt(v) / c.bias_correction2_sqrt + c.epsilon;
  // A zero rate leaves the weight exactly as it is, even when the gradient is not finite (0·NaN
  // would be NaN): a frozen model of a stack keeps its weights whatever its batches do.
  if (c.step_size != T(0)) param -= c.step_size * m / denom;
}

// The model that owns element i of a stacked flat buffer. `segments` holds `count` pairs
// (offset, per-model size), one per non-empty parameter, sorted by offset: the parameter is
// [M, ...] and model m's slice starts at offset + m·size. i must lie inside some parameter.
LATF_HD std::int64_t stacked_model_of(const std::int64_t* segments, int count, std::int64_t i) {
  int low = 0, high = count - 1;  // binary search for the last segment starting at or before i
  while (low < high) {
    const int mid = (low + high + 1) / 2;
    if (segments[2 * mid] <= i) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  return (i - segments[2 * low]) / segments[2 * low + 1];
}

}  // namespace latf::kernels
