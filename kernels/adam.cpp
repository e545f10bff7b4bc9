#include "kernels/adam.hpp"

#include <algorithm>
#include <cmath>

#include "engine/cuda_runtime.hpp"
#include "kernels/adam_math.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void adam_step_cuda(float* params, const float* grads, float* m, float* v, std::int64_t n,
                    const AdamCoefficients<float>& coefficients, int device);
void adam_step_models_cuda(float* params, const float* grads, float* m, float* v, std::int64_t n,
                           const AdamConfig& config, const float* learning_rates, std::int64_t* steps, int models,
                           const std::int64_t* segments, int segment_count, AdamCoefficients<float>* coefficients,
                           int device);
#endif

namespace {

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

// The stacked buffer's segments must tile it exactly, or an element would find no model (or a
// wrong one). Checked where the table can be read for free: on the host.
void require_tiling(const Indices& segments, int models, std::int64_t n) {
  const std::int64_t* s = segments.data();
  std::int64_t end = 0;
  for (std::int64_t k = 0; k < segments.size() / 2; ++k) {
    LATF_REQUIRE(s[2 * k] == end && s[2 * k + 1] > 0, "Adam segments: entry ", k, " (offset ", s[2 * k],
                 ", per-model size ", s[2 * k + 1], ") does not continue the tiling at offset ", end,
                 " with a positive size");
    end += models * s[2 * k + 1];
  }
  LATF_REQUIRE(end == n, "Adam segments: cover ", end, " elements, expected the buffer's ", n);
}

template <class T>
void step_models_cpu(Tensor& params, const Tensor& grads, Tensor& first_moment, Tensor& second_moment,
                     const AdamConfig& config, const Tensor& learning_rates, Indices& steps,
                     const Indices& segments, Tensor& coefficients) {
  const auto models = static_cast<int>(steps.size());
  require_tiling(segments, models, params.numel());
  const float* rate = learning_rates.data<float>();
  std::int64_t* step = steps.data();
  auto* c = reinterpret_cast<AdamCoefficients<T>*>(coefficients.data<T>());
  for (int m = 0; m < models; ++m) c[m] = adam_coefficients<T>(config, rate[m], ++step[m]);
  T* p = params.data<T>();
  const T* g = grads.data<T>();
  T* m1 = first_moment.data<T>();
  T* m2 = second_moment.data<T>();
  const std::int64_t* s = segments.data();
  for (std::int64_t k = 0; k < segments.size() / 2; ++k)
    for (int m = 0; m < models; ++m) {
      const std::int64_t begin = s[2 * k] + m * s[2 * k + 1], end = begin + s[2 * k + 1];
      for (std::int64_t i = begin; i < end; ++i) adam_update(p[i], g[i], m1[i], m2[i], c[m]);
    }
}

void require_on(const Device& expected, const Device& actual, const char* operand) {
  LATF_REQUIRE(expected == actual, operand, ": expected device ", expected.str(), " (the parameters'), got ",
               actual.str());
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

namespace {
// The four flat buffers of an update: one shape, one device.
void check_buffers(const Tensor& params, const Tensor& grads, const Tensor& first_moment, const Tensor& second_moment) {
  require_defined(params, "Adam parameters");
  require_shape(grads, params.shape(), "Adam gradients");
  require_shape(first_moment, params.shape(), "Adam first moment");
  require_shape(second_moment, params.shape(), "Adam second moment");
  require_same_device(params, grads, "Adam parameters", "Adam gradients");
  require_same_device(params, first_moment, "Adam parameters", "Adam first moment");
  require_same_device(params, second_moment, "Adam parameters", "Adam second moment");
}
}  // namespace

void adam_step(Tensor& params, const Tensor& grads, Tensor& first_moment, Tensor& second_moment,
               const AdamConfig& config, std::int64_t step) {
  validate(config);
  LATF_REQUIRE(step >= 1, "Adam step: expected a 1-based step count ≥ 1, got ", step);
  check_buffers(params, grads, first_moment, second_moment);
  if (params.device().is_cuda()) {
#if LATF_WITH_CUDA
    adam_step_cuda(params.data<float>(), grads.data<float>(), first_moment.data<float>(),
                   second_moment.data<float>(), params.numel(),
                   adam_coefficients<float>(config, config.learning_rate, step), params.device().index);
#else
    no_cuda_backend("adam_step");
#endif
    return;
  }
  dispatch_cpu_dtype(params, [&](auto zero) {
    using T = decltype(zero);
    step_cpu<T>(params, grads, first_moment, second_moment,
                adam_coefficients<T>(config, config.learning_rate, step));
  });
}

void adam_step_models(Tensor& params, const Tensor& grads, Tensor& first_moment, Tensor& second_moment,
                      const AdamConfig& config, const Tensor& learning_rates, Indices& steps,
                      const Indices& segments, Tensor& coefficients) {
  validate(config);
  check_buffers(params, grads, first_moment, second_moment);
  LATF_REQUIRE(steps.defined() && steps.size() >= 1, "Adam step counts: expected one per model (M ≥ 1), got ",
               steps.defined() ? steps.size() : 0);
  const std::int64_t models = steps.size();
  require_on(params.device(), steps.device(), "Adam step counts");
  require_shape(learning_rates, Shape{models}, "Adam learning rates");
  LATF_REQUIRE(learning_rates.dtype() == DType::Float32, "Adam learning rates: expected dtype float32, got ",
               dtype_name(learning_rates.dtype()));
  require_on(params.device(), learning_rates.device(), "Adam learning rates");  // float32 for any params dtype
  LATF_REQUIRE(segments.defined() && segments.size() % 2 == 0,
               "Adam segments: expected (offset, per-model size) pairs, got ", segments.size(), " values");
  require_on(params.device(), segments.device(), "Adam segments");
  require_shape(coefficients, Shape{models, kAdamCoefficientFields}, "Adam coefficients");
  LATF_REQUIRE(coefficients.dtype() == params.dtype(), "Adam coefficients: expected dtype ",
               dtype_name(params.dtype()), " (the parameters'), got ", dtype_name(coefficients.dtype()));
  require_same_device(params, coefficients, "Adam parameters", "Adam coefficients");
  if (params.device().is_cuda()) {
#if LATF_WITH_CUDA
    adam_step_models_cuda(params.data<float>(), grads.data<float>(), first_moment.data<float>(),
                          second_moment.data<float>(), params.numel(), config, learning_rates.data<float>(),
                          steps.data(), static_cast<int>(models), segments.data(),
                          static_cast<int>(segments.size() / 2),
                          reinterpret_cast<AdamCoefficients<float>*>(coefficients.data<float>()),
                          params.device().index);
#else
    no_cuda_backend("adam_step_models");
#endif
    return;
  }
  dispatch_cpu_dtype(params, [&](auto zero) {
    using T = decltype(zero);
    step_models_cpu<T>(params, grads, first_moment, second_moment, config, learning_rates, steps, segments,
                       coefficients);
  });
}

void zero_steps(Indices& steps, std::int64_t first, std::int64_t count) {
  LATF_REQUIRE(steps.defined(), "Adam step counts: not allocated");
  LATF_REQUIRE(first >= 0 && count >= 0 && first + count <= steps.size(), "Adam step counts: range [", first, ", ",
               first + count, ") outside [0, ", steps.size(), ")");
  if (count == 0) return;
  if (steps.device().is_cuda()) {
    cuda::memset_zero(steps.data() + first, static_cast<std::size_t>(count) * sizeof(std::int64_t),
                      steps.device().index);
  } else {
    std::fill_n(steps.data() + first, count, std::int64_t{0});
  }
}

}  // namespace latf::kernels
