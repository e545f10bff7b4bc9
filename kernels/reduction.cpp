#include "kernels/reduction.hpp"

#include <cmath>

namespace latf::kernels {

#if LATF_WITH_CUDA
// models sums of n consecutive elements each (models = 1: the single sum).
void weighted_sum_forward_cuda(const float* x, const float* weights, double scale, float* out, std::int64_t models,
                               std::int64_t n, int device);
void weighted_sum_backward_cuda(const float* x, const float* weights, double scale, const float* dout, float* dx,
                                float* dweights, std::int64_t models, std::int64_t n, int device);
#endif

namespace {

void check_operands(const Tensor& x, const Tensor& weights, double scale) {
  require_defined(x, "weighted_sum input x");
  if (weights.defined()) {
    require_shape(weights, x.shape(), "weighted_sum weights");
    require_same_device(x, weights, "weighted_sum input x", "weighted_sum weights");
  }
  LATF_REQUIRE(std::isfinite(scale), "weighted_sum scale: expected a finite number, got ", scale);
}

// The number of sums an output (or its gradient) holds: [1] the sum of everything, [M] with
// M = x.dim(0) one per model slice.
std::int64_t models_of(const Tensor& x, const Tensor& out, const char* name) {
  require_defined(out, name);
  const std::int64_t per_model = x.rank() >= 1 ? x.dim(0) : 1;
  const bool ok = out.rank() == 1 && (out.dim(0) == 1 || out.dim(0) == per_model);
  LATF_REQUIRE(ok, name, ": expected shape [1] or [", per_model, "] (one per model of x ", x.shape().str(), "), got ",
               out.shape().str());
  LATF_REQUIRE(out.dim(0) <= 65535, name, ": ", out.dim(0), " models exceed the 65535 of one CUDA launch");
  return out.dim(0);
}

// Model m's n elements, flat (undefined stays undefined).
Tensor model_slice(const Tensor& t, std::int64_t m, std::int64_t n) { return t.defined() ? t.view(m * n, {n}) : t; }

// Neumaier's variant of Kahan summation: the running compensation also covers terms larger than
// the partial sum, so the result is the exact sum rounded once (up to O(n·ε²)).
class CompensatedSum {
 public:
  void add(double v) {
    const double t = sum_ + v;
    compensation_ += std::abs(sum_) >= std::abs(v) ? (sum_ - t) + v : (v - t) + sum_;
    sum_ = t;
  }
  double value() const { return sum_ + compensation_; }

 private:
  double sum_ = 0.0;
  double compensation_ = 0.0;
};

template <class T>
void forward_cpu(const Tensor& x, const Tensor& weights, double scale, Tensor& out) {
  const std::int64_t n = x.numel();
  const T* px = x.data<T>();
  const T* pw = data_or_null<T>(weights);
  CompensatedSum total;
  if (pw) {
    for (std::int64_t i = 0; i < n; ++i) total.add(double(pw[i]) * double(px[i]));
  } else {
    for (std::int64_t i = 0; i < n; ++i) total.add(double(px[i]));
  }
  out.data<T>()[0] = static_cast<T>(scale * total.value());
}

template <class T>
void backward_cpu(const Tensor& x, const Tensor& weights, double scale, const Tensor& dout, Tensor& dx,
                  Tensor& dweights) {
  const std::int64_t n = x.numel();
  const T s = static_cast<T>(scale * double(dout.data<T>()[0]));
  const T* pw = data_or_null<T>(weights);
  if (dx.defined()) {
    T* g = dx.data<T>();
    for (std::int64_t i = 0; i < n; ++i) g[i] += pw ? s * pw[i] : s;
  }
  if (dweights.defined()) {
    const T* px = x.data<T>();
    T* g = dweights.data<T>();
    for (std::int64_t i = 0; i < n; ++i) g[i] += s * px[i];
  }
}

}  // namespace

void weighted_sum_forward(const Tensor& x, const Tensor& weights, double scale, Tensor& out) {
  check_operands(x, weights, scale);
  const std::int64_t models = models_of(x, out, "weighted_sum output");
  require_same_device(x, out, "weighted_sum input x", "weighted_sum output");
  if (models == 0) return;  // x [0, ...] and out [0]: no model, nothing to sum
  const std::int64_t n = x.numel() / models;
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    weighted_sum_forward_cuda(x.data<float>(), data_or_null<float>(weights), scale, out.data<float>(), models, n,
                              x.device().index);
#else
    no_cuda_backend("weighted_sum_forward");
#endif
    return;
  }
  for (std::int64_t m = 0; m < models; ++m) {
    const Tensor xm = model_slice(x, m, n), wm = model_slice(weights, m, n);
    Tensor om = out.view(m, {1});
    dispatch_cpu_dtype(x, [&](auto zero) { forward_cpu<decltype(zero)>(xm, wm, scale, om); });
  }
}

void weighted_sum_backward(const Tensor& x, const Tensor& weights, double scale, const Tensor& dout, Tensor& dx,
                           Tensor& dweights) {
  check_operands(x, weights, scale);
  const std::int64_t models = models_of(x, dout, "weighted_sum output gradient");
  require_same_device(x, dout, "weighted_sum input x", "weighted_sum output gradient");
  if (dx.defined()) {
    require_shape(dx, x.shape(), "weighted_sum input gradient dx");
    require_same_device(x, dx, "weighted_sum input x", "weighted_sum input gradient dx");
  }
  if (dweights.defined()) {
    LATF_REQUIRE(weights.defined(), "weighted_sum weights gradient: given, but weights are undefined (all 1)");
    require_shape(dweights, x.shape(), "weighted_sum weights gradient");
    require_same_device(x, dweights, "weighted_sum input x", "weighted_sum weights gradient");
  }
  if (models == 0 || (!dx.defined() && !dweights.defined())) return;
  const std::int64_t n = x.numel() / models;
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    weighted_sum_backward_cuda(x.data<float>(), data_or_null<float>(weights), scale, dout.data<float>(),
                               data_or_null<float>(dx), data_or_null<float>(dweights), models, n, x.device().index);
#else
    no_cuda_backend("weighted_sum_backward");
#endif
    return;
  }
  for (std::int64_t m = 0; m < models; ++m) {
    const Tensor xm = model_slice(x, m, n), wm = model_slice(weights, m, n), dm = dout.view(m, {1});
    Tensor dxm = model_slice(dx, m, n), dwm = model_slice(dweights, m, n);
    dispatch_cpu_dtype(x, [&](auto zero) { backward_cpu<decltype(zero)>(xm, wm, scale, dm, dxm, dwm); });
  }
}

}  // namespace latf::kernels
