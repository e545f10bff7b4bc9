#include "kernels/mlp.hpp"

#include "kernels/mlp_cpu.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void mlp_forward_cuda(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, Tensor& y);
void mlp_backward_cuda(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, const Tensor& dy,
                       Tensor& dx, Tensor& dparams);
#endif

bool mlp_fused_cuda_supported(const MlpShape& shape) {
  return (shape.hidden == 16 || shape.hidden == 32 || shape.hidden == 64) && shape.in >= 1 &&
         shape.in <= kMlpMaxFusedEnds && shape.out >= 1 && shape.out <= kMlpMaxFusedEnds;
}

namespace {

void check_operands(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha) {
  LATF_REQUIRE(shape.in > 0 && shape.hidden > 0 && shape.out > 0, "mlp shape: expected positive widths, got in=",
               shape.in, " hidden=", shape.hidden, " out=", shape.out);
  require_defined(x, "mlp input x");
  LATF_REQUIRE(x.rank() == 2 && x.dim(1) == shape.in, "mlp input x: expected shape [N, ", shape.in, "], got ",
               x.shape().str());
  require_shape(params, {shape.size()}, "mlp parameters");
  require_same_device(x, params, "mlp input x", "mlp parameters");
  LATF_REQUIRE(alpha > 0, "mlp LeakyReLU slope alpha: expected > 0, got ", alpha);
  if (x.device().is_cuda())
    LATF_REQUIRE(mlp_fused_cuda_supported(shape), "mlp on CUDA: no fused kernel for in=", shape.in, " hidden=",
                 shape.hidden, " out=", shape.out, " (fused: hidden 16/32/64, in/out 1..", kMlpMaxFusedEnds,
                 "); build the network from autodiff::linear layers instead");
}

}  // namespace

void mlp_forward(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, Tensor& y) {
  check_operands(x, params, shape, alpha);
  require_shape(y, {x.dim(0), shape.out}, "mlp output y");
  require_same_device(x, y, "mlp input x", "mlp output y");
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    mlp_forward_cuda(x, params, shape, alpha, y);
#else
    no_cuda_backend("mlp_forward");
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    cpu::MlpActivations act(x.dim(0), shape.hidden, x.dtype());
    cpu::mlp_forward<T>(matrix<T>(x, x.dim(0), shape.in), params.data<T>(), shape, T(alpha), act,
                        matrix<T>(y, x.dim(0), shape.out));
  });
}

void mlp_backward(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, const Tensor& dy,
                  Tensor& dx, Tensor& dparams) {
  check_operands(x, params, shape, alpha);
  require_shape(dy, {x.dim(0), shape.out}, "mlp output gradient dy");
  require_same_device(x, dy, "mlp input x", "mlp output gradient dy");
  if (dx.defined()) require_shape(dx, x.shape(), "mlp input gradient dx");
  if (dparams.defined()) require_shape(dparams, params.shape(), "mlp parameter gradient");
  require_same_place(x, "mlp input x", dx, "mlp input gradient dx");
  require_same_place(x, "mlp input x", dparams, "mlp parameter gradient");
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    mlp_backward_cuda(x, params, shape, alpha, dy, dx, dparams);
#else
    no_cuda_backend("mlp_backward");
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    const std::int64_t n = x.dim(0);
    auto X = matrix<T>(x, n, shape.in);
    cpu::MlpActivations act(n, shape.hidden, x.dtype());
    Tensor y = Tensor::empty({n, shape.out}, Device::cpu(), x.dtype());
    cpu::mlp_forward<T>(X, params.data<T>(), shape, T(alpha), act, matrix<T>(y, n, shape.out));
    cpu::mlp_backward<T>(X, params.data<T>(), shape, T(alpha), act, matrix<T>(dy, n, shape.out),
                         data_or_null<T>(dx), data_or_null<T>(dparams));
  });
}

}  // namespace latf::kernels
