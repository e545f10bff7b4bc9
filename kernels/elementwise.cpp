#include "kernels/elementwise.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void axpby_cuda(float alpha, const float* a, float beta, const float* b, float* out, std::int64_t n, int device);
#endif

namespace {
void check(const Tensor& a, const Tensor& b, const char* name_a, const char* name_b) {
  require_defined(a, name_a);
  require_shape(b, a.shape(), name_b);
  require_same_device(a, b, name_a, name_b);
}

// out = alpha·a + beta·b; out may alias b.
void run_axpby(double alpha, const Tensor& a, double beta, const Tensor& b, Tensor& out, const char* op) {
  const std::int64_t n = a.numel();
  if (a.device().is_cuda()) {
#if LATF_WITH_CUDA
    axpby_cuda(static_cast<float>(alpha), a.data<float>(), static_cast<float>(beta), b.data<float>(),
               out.data<float>(), n, a.device().index);
#else
    no_cuda_backend(op);
#endif
    return;
  }
  dispatch_cpu_dtype(a, [&](auto zero) {
    using T = decltype(zero);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    for (std::int64_t i = 0; i < n; ++i) po[i] = T(alpha) * pa[i] + T(beta) * pb[i];
  });
}
}  // namespace

void axpby(double alpha, const Tensor& a, double beta, const Tensor& b, Tensor& out) {
  check(a, b, "axpby operand a", "axpby operand b");
  check(a, out, "axpby operand a", "axpby output");
  run_axpby(alpha, a, beta, b, out, "axpby");
}

void accumulate_scaled(double alpha, const Tensor& x, Tensor& y) {
  check(x, y, "accumulated value", "accumulator");
  run_axpby(alpha, x, 1.0, y, y, "accumulate_scaled");
}

}  // namespace latf::kernels
