#include "kernels/adam.hpp"

#include <cmath>

#include "kernels/adam_math.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void adam_step_cuda(float* params, const float* grads, float* m, float* v, std::int64_t n,
                    const AdamCoefficients<float>& coefficients, int device);
#endif

namespace {

// Bias corrections in double, as PyTorch computes them (in Python floats) before the update.
template <class T>
AdamCoefficients<T> coefficients(const AdamConfig& config, std::int64_t step) {
  const double t = static_cast<double>(step);
  const double correction1 = 1.0 - std::pow(double(config.beta1), t);
  const double correction2 = 1.0 - std::pow(double(config.beta2), t);
  return {T(config.beta1),
          T(config.beta2),
          T(config.epsilon),
          T(config.weight_decay),
          static_cast<T>(double(config.learning_rate) / correction1),
          static_cast<T>(std::sqrt(correction2))};
}

template <class T>
void step_cpu(Tensor& params, const Tensor& grads, Tensor& first_moment, Tensor& second_moment,
              const AdamCoefficients<T>& c) {
  const std::int64_t n = params.numel();
  T* p = params.data<T>();
  const T* g = grads.data<T>();
  T* m = first_moment.data<T>();
  T* v = second_moment.data<T>();
  for (std::int64_t i = 0; i < n; ++i) adam_update(p[i], g[i], m[i], v[i], c);
}

bool finite_at_least(float value, float low) { return std::isfinite(value) && value >= low; }

}  // namespace

void validate(const AdamConfig& config) {
  LATF_REQUIRE(finite_at_least(config.learning_rate, 0.f), "Adam learning_rate: expected a finite value ≥ 0, got ",
               config.learning_rate);
  LATF_REQUIRE(finite_at_least(config.beta1, 0.f) && config.beta1 < 1.f, "Adam beta1: expected a value in [0, 1), got ",
               config.beta1);
  LATF_REQUIRE(finite_at_least(config.beta2, 0.f) && config.beta2 < 1.f, "Adam beta2: expected a value in [0, 1), got ",
               config.beta2);
  LATF_REQUIRE(finite_at_least(config.epsilon, 0.f) && config.epsilon > 0.f,
               "Adam epsilon: expected a finite value > 0, got ", config.epsilon);
  LATF_REQUIRE(finite_at_least(config.weight_decay, 0.f), "Adam weight_decay: expected a finite value ≥ 0, got ",
               config.weight_decay);
}

void adam_step(Tensor& params, const Tensor& grads, Tensor& first_moment, Tensor& second_moment,
               const AdamConfig& config, std::int64_t step) {
  validate(config);
  LATF_REQUIRE(step >= 1, "Adam step: expected a 1-based step count ≥ 1, got ", step);
  require_defined(params, "Adam parameters");
  require_shape(grads, params.shape(), "Adam gradients");
  require_shape(first_moment, params.shape(), "Adam first moment");
  require_shape(second_moment, params.shape(), "Adam second moment");
  require_same_device(params, grads, "Adam parameters", "Adam gradients");
  require_same_device(params, first_moment, "Adam parameters", "Adam first moment");
  require_same_device(params, second_moment, "Adam parameters", "Adam second moment");
  if (params.device().is_cuda()) {
#if LATF_WITH_CUDA
    adam_step_cuda(params.data<float>(), grads.data<float>(), first_moment.data<float>(),
                   second_moment.data<float>(), params.numel(), coefficients<float>(config, step),
                   params.device().index);
#else
    no_cuda_backend("adam_step");
#endif
    return;
  }
  dispatch_cpu_dtype(params, [&](auto zero) {
    using T = decltype(zero);
    step_cpu<T>(params, grads, first_moment, second_moment, coefficients<T>(config, step));
  });
}

}  // namespace latf::kernels
