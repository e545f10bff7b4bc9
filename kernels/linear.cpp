#include "kernels/linear.hpp"

#include <type_traits>

#include "kernels/eigen_maps.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void linear_forward_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act, float alpha,
                         Tensor& y, LinearPath path);
void linear_backward_cuda(const Tensor& x, const Tensor& weight, const Tensor& y, const Tensor& dy,
                          Activation act, float alpha, Tensor& dx, Tensor& dweight, Tensor& dbias);
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
  if (dbias.defined()) vector<T>(dbias, out) += dpre.colwise().sum().transpose();
}

void check_operands(const Tensor& x, const Tensor& weight, Activation act, float alpha) {
  require_defined(x, "linear input x");
  require_defined(weight, "linear weight");
  LATF_REQUIRE(x.rank() == 2, "linear input x: expected rank 2 [N, in], got shape ", x.shape().str());
  LATF_REQUIRE(weight.rank() == 2, "linear weight: expected rank 2 [out, in], got shape ", weight.shape().str());
  LATF_REQUIRE(weight.dim(1) == x.dim(1), "linear weight: expected ", x.dim(1),
               " input columns to match x of shape ", x.shape().str(), ", got shape ", weight.shape().str());
  require_same_device(x, weight, "linear input x", "linear weight");
  LATF_REQUIRE(act != Activation::LeakyReLU || alpha > 0, "linear LeakyReLU slope alpha: expected > 0, got ", alpha);
}

}  // namespace

void linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act, float alpha,
                    Tensor& y, LinearPath path) {
  check_operands(x, weight, act, alpha);
  require_shape(bias, {weight.dim(0)}, "linear bias");
  require_same_device(x, bias, "linear input x", "linear bias");
  require_shape(y, {x.dim(0), weight.dim(0)}, "linear output y");
  require_same_device(x, y, "linear input x", "linear output y");
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    linear_forward_cuda(x, weight, bias, act, alpha, y, path);
#else
    no_cuda_backend("linear_forward");
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    forward_cpu<T>(x, weight, bias, act, T(alpha), y);
  });
}

void linear_backward(const Tensor& x, const Tensor& weight, const Tensor& y, const Tensor& dy, Activation act,
                     float alpha, Tensor& dx, Tensor& dweight, Tensor& dbias) {
  check_operands(x, weight, act, alpha);
  const Shape out_shape{x.dim(0), weight.dim(0)};
  require_shape(y, out_shape, "linear output y");
  require_shape(dy, out_shape, "linear output gradient dy");
  if (dx.defined()) require_shape(dx, x.shape(), "linear input gradient dx");
  if (dweight.defined()) require_shape(dweight, weight.shape(), "linear weight gradient");
  if (dbias.defined()) require_shape(dbias, {weight.dim(0)}, "linear bias gradient");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&y, &dy, &dx, &dweight, &dbias})
    require_same_place(x, "linear input x", *t, "a linear backward operand");
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    linear_backward_cuda(x, weight, y, dy, act, alpha, dx, dweight, dbias);
#else
    no_cuda_backend("linear_backward");
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    backward_cpu<T>(x, weight, y, dy, act, T(alpha), dx, dweight, dbias);
  });
}

}  // namespace latf::kernels
