#include "kernels/mlp.hpp"

#include "kernels/mlp_cpu.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void mlp_forward_cuda(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, Tensor& y,
                      std::int64_t models);
void mlp_backward_cuda(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, const Tensor& dy,
                       Tensor& dx, Tensor& dparams, std::int64_t models);
#endif

bool mlp_fused_cuda_supported(const MlpShape& shape) {
  return (shape.hidden == 16 || shape.hidden == 32 || shape.hidden == 64) && shape.in >= 1 &&
         shape.in <= kMlpMaxFusedEnds && shape.out >= 1 && shape.out <= kMlpMaxFusedEnds;
}

namespace {

// The call's form: stacked when x has rank 3 [M, N, in]; params must then be [M, size].
struct MlpDims {
  bool stacked = false;
  std::int64_t models = 1, n = 0;
  Shape rows(int width) const { return stacked ? Shape{models, n, width} : Shape{n, width}; }
};

MlpDims check_operands(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha) {
  LATF_REQUIRE(shape.in > 0 && shape.hidden > 0 && shape.out > 0, "mlp shape: expected positive widths, got in=",
               shape.in, " hidden=", shape.hidden, " out=", shape.out);
  require_defined(x, "mlp input x");
  MlpDims d;
  d.stacked = x.rank() == 3;
  if (d.stacked) {
    LATF_REQUIRE(x.dim(2) == shape.in, "mlp input x: expected stacked shape [M, N, ", shape.in, "], got ",
                 x.shape().str());
    d.models = x.dim(0);
    require_defined(params, "mlp parameters");
    LATF_REQUIRE(params.rank() == 2, "mlp parameters: expected stacked shape [", d.models, ", ", shape.size(),
                 "] like the stacked input x of shape ", x.shape().str(), ", got ", params.shape().str());
    require_shape(params, {d.models, shape.size()}, "mlp parameters (stacked)");
  } else {
    LATF_REQUIRE(x.rank() == 2 && x.dim(1) == shape.in, "mlp input x: expected shape [N, ", shape.in,
                 "] or stacked [M, N, ", shape.in, "], got ", x.shape().str());
    require_shape(params, {shape.size()}, "mlp parameters");
  }
  d.n = x.dim(x.rank() - 2);
  require_same_device(x, params, "mlp input x", "mlp parameters");
  LATF_REQUIRE(alpha > 0, "mlp LeakyReLU slope alpha: expected > 0, got ", alpha);
  if (x.device().is_cuda())
    LATF_REQUIRE(mlp_fused_cuda_supported(shape), "mlp on CUDA: no fused kernel for in=", shape.in, " hidden=",
                 shape.hidden, " out=", shape.out, " (fused: hidden 16/32/64, in/out 1..", kMlpMaxFusedEnds,
                 "); build the network from autodiff::linear layers instead");
  return d;
}

// Model m's slice of a per-model operand (the whole tensor in the single form); undefined stays undefined.
Tensor model_slice(const Tensor& t, std::int64_t m, const Shape& slice_shape) {
  return t.defined() ? t.view(m * slice_shape.numel(), slice_shape) : Tensor();
}

template <class T>
void forward_cpu(const Tensor& x, const Tensor& params, const MlpShape& shape, T alpha, const Tensor& y) {
  const std::int64_t n = x.dim(0);
  cpu::MlpActivations act(n, shape.hidden, x.dtype());
  cpu::mlp_forward<T>(matrix<T>(x, n, shape.in), params.data<T>(), shape, alpha, act, matrix<T>(y, n, shape.out));
}

template <class T>
void backward_cpu(const Tensor& x, const Tensor& params, const MlpShape& shape, T alpha, const Tensor& dy,
                  const Tensor& dx, const Tensor& dparams) {
  const std::int64_t n = x.dim(0);
  auto X = matrix<T>(x, n, shape.in);
  cpu::MlpActivations act(n, shape.hidden, x.dtype());
  Tensor y = Tensor::empty({n, shape.out}, Device::cpu(), x.dtype());
  cpu::mlp_forward<T>(X, params.data<T>(), shape, alpha, act, matrix<T>(y, n, shape.out));
  cpu::mlp_backward<T>(X, params.data<T>(), shape, alpha, act, matrix<T>(dy, n, shape.out), data_or_null<T>(dx),
                       data_or_null<T>(dparams));
}

}  // namespace

void mlp_forward(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, Tensor& y) {
  const MlpDims d = check_operands(x, params, shape, alpha);
  require_shape(y, d.rows(shape.out), "mlp output y");
  require_same_device(x, y, "mlp input x", "mlp output y");
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    mlp_forward_cuda(x, params, shape, alpha, y, d.models);
#else
    no_cuda_backend("mlp_forward");
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    for (std::int64_t m = 0; m < d.models; ++m)
      forward_cpu<T>(model_slice(x, m, {d.n, shape.in}), model_slice(params, m, {shape.size()}), shape, T(alpha),
                     model_slice(y, m, {d.n, shape.out}));
  });
}

void mlp_backward(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, const Tensor& dy,
                  Tensor& dx, Tensor& dparams) {
  const MlpDims d = check_operands(x, params, shape, alpha);
  require_shape(dy, d.rows(shape.out), "mlp output gradient dy");
  require_same_device(x, dy, "mlp input x", "mlp output gradient dy");
  if (dx.defined()) require_shape(dx, x.shape(), "mlp input gradient dx");
  if (dparams.defined()) require_shape(dparams, params.shape(), "mlp parameter gradient");
  require_same_place(x, "mlp input x", dx, "mlp input gradient dx");
  require_same_place(x, "mlp input x", dparams, "mlp parameter gradient");
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    mlp_backward_cuda(x, params, shape, alpha, dy, dx, dparams, d.models);
#else
    no_cuda_backend("mlp_backward");
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    for (std::int64_t m = 0; m < d.models; ++m)
      backward_cpu<T>(model_slice(x, m, {d.n, shape.in}), model_slice(params, m, {shape.size()}), shape, T(alpha),
                      model_slice(dy, m, {d.n, shape.out}), model_slice(dx, m, {d.n, shape.in}),
                      model_slice(dparams, m, {shape.size()}));
  });
}

}  // namespace latf::kernels
