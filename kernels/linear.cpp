#include "kernels/linear.hpp"

#include <type_traits>

#include "kernels/eigen_maps.hpp"
#include "kernels/mlp_cpu.hpp"  // cpu::add_column_sums

namespace latf::kernels {

#if LATF_WITH_CUDA
void linear_forward_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act, float alpha,
                         Tensor& y, LinearPath path, std::int64_t models);
void linear_backward_cuda(const Tensor& x, const Tensor& weight, const Tensor& y, const Tensor& dy,
                          Activation act, float alpha, Tensor& dx, Tensor& dweight, Tensor& dbias,
                          std::int64_t models);
#endif

namespace {

// Calls fn(std::integral_constant<Activation, A>{}) for the runtime activation, so that the
// element loops below see a constant activation, drop its branches and vectorise.
template <class Fn>
void with_activation(Activation act, Fn&& fn) {
  switch (act) {
    case Activation::Identity: fn(std::integral_constant<Activation, Activation::Identity>{}); break;
    case Activation::ReLU: fn(std::integral_constant<Activation, Activation::ReLU>{}); break;
    case Activation::LeakyReLU: fn(std::integral_constant<Activation, Activation::LeakyReLU>{}); break;
  }
}

template <class T>
void forward_cpu(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act, T alpha, Tensor& y) {
  const auto n = x.dim(0), in = x.dim(1), out = weight.dim(0);
  auto X = matrix<T>(x, n, in);
  auto W = matrix<T>(weight, out, in);
  auto Y = matrix<T>(y, n, out);
  Y.noalias() = X * W.transpose();
  // Bias and activation in one pass over the output (were two Eigen passes).
  const T* __restrict bias_values = bias.data<T>();
  T* __restrict values = y.data<T>();
  with_activation(act, [&](auto a) {
    for (Eigen::Index i = 0; i < n; ++i) {
      T* __restrict row = values + i * out;
      for (Eigen::Index o = 0; o < out; ++o) row[o] = activate(row[o] + bias_values[o], a(), alpha);
    }
  });
}

template <class T>
void backward_cpu(const Tensor& x, const Tensor& weight, const Tensor& y, const Tensor& dy, Activation act,
                  T alpha, Tensor& dx, Tensor& dweight, Tensor& dbias) {
  const auto n = x.dim(0), in = x.dim(1), out = weight.dim(0);
  auto X = matrix<T>(x, n, in);
  auto W = matrix<T>(weight, out, in);
  auto Y = matrix<T>(y, n, out);
  auto dY = matrix<T>(dy, n, out);
  // Without an activation the pre-activation gradient is dy itself: no scratch pass.
  Tensor scratch = act == Activation::Identity ? dy : Tensor::empty(y.shape(), y.device(), y.dtype());  // pooled
  auto dpre = matrix<T>(scratch, n, out);
  with_activation(act, [&](auto a) {
    if constexpr (a() != Activation::Identity)
      dpre = dY.binaryExpr(Y, [&](T g, T v) { return g * activation_slope(v, a(), alpha); });
  });
  if (dx.defined()) matrix<T>(dx, n, in).noalias() += dpre * W;
  if (dweight.defined()) matrix<T>(dweight, out, in).noalias() += dpre.transpose() * X;
  if (dbias.defined()) cpu::add_column_sums<T>(dpre.data(), n, out, dbias.data<T>());
}

// The call's form and widths. Stacked when x has rank 3: then weight and bias must be stacked too,
// with the same model count M (there is no shared operand in a linear layer).
struct LinearDims {
  bool stacked = false;
  std::int64_t models = 1, n = 0, in = 0, out = 0;
  Shape per_model(std::int64_t a, std::int64_t b) const { return stacked ? Shape{models, a, b} : Shape{a, b}; }
  Shape per_model(std::int64_t a) const { return stacked ? Shape{models, a} : Shape{a}; }
};

LinearDims check_operands(const Tensor& x, const Tensor& weight, Activation act, float alpha) {
  require_defined(x, "linear input x");
  require_defined(weight, "linear weight");
  LATF_REQUIRE(act != Activation::LeakyReLU || alpha > 0, "linear LeakyReLU slope alpha: expected > 0, got ", alpha);
  LinearDims d;
  d.stacked = x.rank() == 3;
  if (d.stacked) {
    LATF_REQUIRE(weight.rank() == 3, "linear weight: expected stacked shape [M, out, in] like the stacked input x of "
                 "shape ", x.shape().str(), ", got shape ", weight.shape().str());
    LATF_REQUIRE(weight.dim(0) == x.dim(0), "linear weight: expected ", x.dim(0),
                 " stacked models to match input x of shape ", x.shape().str(), ", got shape ", weight.shape().str());
    LATF_REQUIRE(weight.dim(2) == x.dim(2), "linear weight: expected ", x.dim(2),
                 " input columns to match x of shape ", x.shape().str(), ", got shape ", weight.shape().str());
    d.models = x.dim(0);
  } else {
    LATF_REQUIRE(x.rank() == 2, "linear input x: expected rank 2 [N, in] or stacked rank 3 [M, N, in], got shape ",
                 x.shape().str());
    LATF_REQUIRE(weight.rank() == 2, "linear weight: expected rank 2 [out, in] like the unstacked input x of shape ",
                 x.shape().str(), ", got shape ", weight.shape().str());
    LATF_REQUIRE(weight.dim(1) == x.dim(1), "linear weight: expected ", x.dim(1),
                 " input columns to match x of shape ", x.shape().str(), ", got shape ", weight.shape().str());
  }
  d.n = x.dim(x.rank() - 2);
  d.in = x.dim(x.rank() - 1);
  d.out = weight.dim(weight.rank() - 2);
  require_same_device(x, weight, "linear input x", "linear weight");
  return d;
}

// Model m's slice of a per-model operand (the whole tensor in the single form); undefined stays undefined.
Tensor model_slice(const Tensor& t, std::int64_t m, const Shape& slice_shape) {
  return t.defined() ? t.view(m * slice_shape.numel(), slice_shape) : Tensor();
}

}  // namespace

void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act, float alpha,
                    Tensor& y, LinearPath path) {
  const LinearDims d = check_operands(x, weight, act, alpha);
  require_shape(bias, d.per_model(d.out), d.stacked ? "linear bias (stacked)" : "linear bias");
  require_same_device(x, bias, "linear input x", "linear bias");
  require_shape(y, d.per_model(d.n, d.out), "linear output y");
  require_same_device(x, y, "linear input x", "linear output y");
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    linear_forward_cuda(x, weight, bias, act, alpha, y, path, d.models);
#else
    no_cuda_backend("linear_forward");
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    for (std::int64_t m = 0; m < d.models; ++m) {
      Tensor ym = model_slice(y, m, {d.n, d.out});
      forward_cpu<T>(model_slice(x, m, {d.n, d.in}), model_slice(weight, m, {d.out, d.in}),
                     model_slice(bias, m, {d.out}), act, T(alpha), ym);
    }
  });
}

void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& y, const Tensor& dy, Activation act,
                     float alpha, Tensor& dx, Tensor& dweight, Tensor& dbias) {
  const LinearDims d = check_operands(x, weight, act, alpha);
  const Shape out_shape = d.per_model(d.n, d.out);
  require_shape(y, out_shape, "linear output y");
  require_shape(dy, out_shape, "linear output gradient dy");
  if (dx.defined()) require_shape(dx, x.shape(), "linear input gradient dx");
  if (dweight.defined()) require_shape(dweight, weight.shape(), "linear weight gradient");
  if (dbias.defined()) require_shape(dbias, d.per_model(d.out), "linear bias gradient");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&y, &dy, &dx, &dweight, &dbias})
    require_same_place(x, "linear input x", *t, "a linear backward operand");
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    linear_backward_cuda(x, weight, y, dy, act, alpha, dx, dweight, dbias, d.models);
#else
    no_cuda_backend("linear_backward");
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    for (std::int64_t m = 0; m < d.models; ++m) {
      Tensor dxm = model_slice(dx, m, {d.n, d.in}), dwm = model_slice(dweight, m, {d.out, d.in}),
             dbm = model_slice(dbias, m, {d.out});
      backward_cpu<T>(model_slice(x, m, {d.n, d.in}), model_slice(weight, m, {d.out, d.in}),
                      model_slice(y, m, {d.n, d.out}), model_slice(dy, m, {d.n, d.out}), act, T(alpha), dxm, dwm, dbm);
    }
  });
}

}  // namespace latf::kernels
