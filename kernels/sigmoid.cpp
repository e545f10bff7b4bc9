#include "kernels/sigmoid.hpp"

#include "kernels/sigmoid_math.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void scaled_sigmoid_forward_cuda(const float* x, float scale, float* y, std::int64_t n, int device);
void scaled_sigmoid_backward_cuda(const float* y, float scale, const float* dy, float* dx, std::int64_t n, int device);
#endif

void scaled_sigmoid_forward(const Tensor& x, double scale, Tensor& y) {
  require_defined(x, "sigmoid input x");
  require_shape(y, x.shape(), "sigmoid output y");
  require_same_device(x, y, "sigmoid input x", "sigmoid output y");
  const std::int64_t n = x.numel();
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    scaled_sigmoid_forward_cuda(x.data<float>(), static_cast<float>(scale), y.data<float>(), n, x.device().index);
#else
    no_cuda_backend("scaled_sigmoid_forward");
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (std::int64_t i = 0; i < n; ++i) out[i] = scaled_sigmoid(in[i], T(scale));
  });
}

void scaled_sigmoid_backward(const Tensor& y, double scale, const Tensor& dy, Tensor& dx) {
  require_defined(y, "sigmoid output y");
  require_shape(dy, y.shape(), "sigmoid output gradient dy");
  require_shape(dx, y.shape(), "sigmoid input gradient dx");
  require_same_device(y, dy, "sigmoid output y", "sigmoid output gradient dy");
  require_same_device(y, dx, "sigmoid output y", "sigmoid input gradient dx");
  const std::int64_t n = y.numel();
  if (y.device().is_cuda()) {
#if LATF_WITH_CUDA
    scaled_sigmoid_backward_cuda(y.data<float>(), static_cast<float>(scale), dy.data<float>(), dx.data<float>(), n,
                                 y.device().index);
#else
    no_cuda_backend("scaled_sigmoid_backward");
#endif
    return;
  }
  dispatch_cpu_dtype(y, [&](auto zero) {
    using T = decltype(zero);
    const T *out = y.data<T>(), *g = dy.data<T>();
    T* gx = dx.data<T>();
    for (std::int64_t i = 0; i < n; ++i) gx[i] += g[i] * scaled_sigmoid_slope(out[i], T(scale));
  });
}

}  // namespace latf::kernels
