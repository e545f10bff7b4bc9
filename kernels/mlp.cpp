#include "kernels/mlp.hpp"

#include "kernels/mlp_cpu.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void mlp_forward_cuda(const Tensor& x, const MlpOperands<const float>& params, const MlpShape& shape, float alpha,
                      Tensor& y, std::int64_t models);
void mlp_backward_cuda(const Tensor& x, const MlpOperands<const float>& params, const MlpShape& shape, float alpha,
                       const Tensor& dy, Tensor& dx, const MlpOperands<float>& grads, std::int64_t models);
#endif

bool mlp_fused_cuda_supported(const MlpShape& shape) {
  return (shape.hidden == 16 || shape.hidden == 32 || shape.hidden == 64) && shape.in >= 1 &&
         shape.in <= kMlpMaxFusedEnds && shape.out >= 1 && shape.out <= kMlpMaxFusedEnds;
}

const Tensor& MlpLayers::operator[](int k) const {
  const Tensor* parts[] = {&weight1, &bias1, &weight2, &bias2, &weight3, &bias3};
  return *parts[k];
}
Tensor& MlpLayers::operator[](int k) { return const_cast<Tensor&>(static_cast<const MlpLayers&>(*this)[k]); }

MlpShape MlpLayers::shape() const {
  MlpShape s;
  if (weight1.defined() && weight1.rank() >= 2) {
    s.in = static_cast<int>(weight1.dim(weight1.rank() - 1));
    s.hidden = static_cast<int>(weight1.dim(weight1.rank() - 2));
  }
  if (weight3.defined() && weight3.rank() >= 2) s.out = static_cast<int>(weight3.dim(weight3.rank() - 2));
  return s;
}

const char* mlp_layer_name(int k) {
  static const char* const names[] = {"mlp_layers weight1 (W1)", "mlp_layers bias1 (b1)",
                                      "mlp_layers weight2 (W2)", "mlp_layers bias2 (b2)",
                                      "mlp_layers weight3 (W3)", "mlp_layers bias3 (b3)"};
  return names[k];
}

namespace {

constexpr int kParts = MlpOperands<float>::kCount;

// The call's form: stacked when x has rank 3 [M, N, in]; every per-model operand then has a
// leading model dimension M too.
struct MlpDims {
  bool stacked = false;
  std::int64_t models = 1, n = 0;
  MlpShape shape;
  Shape rows(int width) const { return stacked ? Shape{models, n, width} : Shape{n, width}; }
};

void check_widths(const MlpShape& shape, const char* op) {
  LATF_REQUIRE(shape.in > 0 && shape.hidden > 0 && shape.out > 0, op, " shape: expected positive widths, got in=",
               shape.in, " hidden=", shape.hidden, " out=", shape.out);
}

// Checks shared by both forms, once the widths are known.
void check_common(const Tensor& x, const MlpShape& shape, float alpha, const char* op) {
  check_widths(shape, op);
  // alpha = 0 is ReLU; a negative slope would break the slope-from-output rule of activation_slope.
  LATF_REQUIRE(alpha >= 0 && std::isfinite(alpha), op, " LeakyReLU slope alpha: expected finite ≥ 0, got ", alpha);
  if (x.device().is_cuda())
    LATF_REQUIRE(mlp_fused_cuda_supported(shape), op, " on CUDA: no fused kernel for in=", shape.in,
                 " hidden=", shape.hidden, " out=", shape.out, " (fused: hidden 16/32/64, in/out 1..",
                 kMlpMaxFusedEnds, "); build the network from autodiff::linear layers instead");
}

MlpDims check_packed(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha) {
  check_widths(shape, "mlp");
  require_defined(x, "mlp input x");
  MlpDims d;
  d.shape = shape;
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
  check_common(x, shape, alpha, "mlp");
  return d;
}

// Operand k's shape [h, in], [h], ... (stacked: [M, ...]).
Shape layer_shape(const MlpDims& d, int k) {
  const std::int64_t rows[] = {d.shape.hidden, d.shape.hidden, d.shape.hidden, d.shape.hidden, d.shape.out,
                               d.shape.out};
  const std::int64_t cols[] = {d.shape.in, 0, d.shape.hidden, 0, d.shape.hidden, 0};
  if (cols[k] == 0) return d.stacked ? Shape{d.models, rows[k]} : Shape{rows[k]};
  return d.stacked ? Shape{d.models, rows[k], cols[k]} : Shape{rows[k], cols[k]};
}

MlpDims check_layers(const Tensor& x, const MlpLayers& layers, float alpha) {
  require_defined(x, "mlp_layers input x");
  for (int k = 0; k < kParts; ++k) require_defined(layers[k], mlp_layer_name(k));
  MlpDims d;
  d.stacked = x.rank() == 3;
  LATF_REQUIRE(d.stacked || x.rank() == 2, "mlp_layers input x: expected shape [N, in] or stacked [M, N, in], got ",
               x.shape().str());
  const int matrix_rank = d.stacked ? 3 : 2;
  for (int k : {0, 4})
    LATF_REQUIRE(layers[k].rank() == matrix_rank, mlp_layer_name(k), ": expected ",
                 d.stacked ? "stacked rank 3 [M, rows, cols] like the stacked" : "rank 2 [rows, cols] like the",
                 " input x of shape ", x.shape().str(), ", got shape ", layers[k].shape().str());
  d.shape = layers.shape();
  d.models = d.stacked ? x.dim(0) : 1;
  d.n = x.dim(x.rank() - 2);
  LATF_REQUIRE(x.dim(x.rank() - 1) == d.shape.in, "mlp_layers input x: expected ", d.shape.in,
               " columns to match weight1 (W1) of shape ", layers.weight1.shape().str(), ", got shape ",
               x.shape().str());
  for (int k = 0; k < kParts; ++k) {
    require_shape(layers[k], layer_shape(d, k), mlp_layer_name(k));
    require_same_device(x, layers[k], "mlp_layers input x", mlp_layer_name(k));
  }
  check_common(x, d.shape, alpha, "mlp_layers");
  return d;
}

// The operands' pointers with their per-model strides (the whole operand in the stacked form).
template <class T>
MlpOperands<T> operands_of(const MlpLayers& layers, const MlpShape& s) {
  MlpOperands<T> r;
  for (int k = 0; k < kParts; ++k) {
    r.part[k] = layers[k].defined() ? layers[k].template data<std::remove_const_t<T>>() : nullptr;
    r.model_stride[k] = s.count(k);
  }
  return r;
}
template <class T>
MlpOperands<T> operands_of(const Tensor& params, const MlpShape& s) {
  return packed_operands<T>(params.defined() ? params.data<std::remove_const_t<T>>() : nullptr, s, s.size());
}

// Model m's slice of a per-model operand (the whole tensor in the single form); undefined stays undefined.
Tensor model_slice(const Tensor& t, std::int64_t m, const Shape& slice_shape) {
  return t.defined() ? t.view(m * slice_shape.numel(), slice_shape) : Tensor();
}

// The CPU runs each model's slice through the single-form code (stacked = M single calls, bit for bit).
template <class T>
void forward_cpu(const MlpDims& d, const Tensor& x, const MlpOperands<const T>& p, T alpha, const Tensor& y) {
  const MlpShape& s = d.shape;
  for (std::int64_t m = 0; m < d.models; ++m) {
    cpu::MlpActivations act(d.n, s.hidden, x.dtype());
    cpu::mlp_forward<T>(matrix<T>(model_slice(x, m, {d.n, s.in}), d.n, s.in), p.model(m), s, alpha, act,
                        matrix<T>(model_slice(y, m, {d.n, s.out}), d.n, s.out));
  }
}

template <class T>
void backward_cpu(const MlpDims& d, const Tensor& x, const MlpOperands<const T>& p, T alpha, const Tensor& dy,
                  const Tensor& dx, const MlpOperands<T>& grads) {
  const MlpShape& s = d.shape;
  for (std::int64_t m = 0; m < d.models; ++m) {
    auto X = matrix<T>(model_slice(x, m, {d.n, s.in}), d.n, s.in);
    cpu::MlpActivations act(d.n, s.hidden, x.dtype());
    Tensor y = Tensor::empty({d.n, s.out}, Device::cpu(), x.dtype());
    cpu::mlp_forward<T>(X, p.model(m), s, alpha, act, matrix<T>(y, d.n, s.out));
    cpu::mlp_backward<T>(X, p.model(m), s, alpha, act, matrix<T>(model_slice(dy, m, {d.n, s.out}), d.n, s.out),
                         data_or_null<T>(model_slice(dx, m, {d.n, s.in})), grads.model(m));
  }
}

// Both forms end here (Operands: the packed Tensor or MlpLayers), as pointers + model strides.
// The caller has checked every operand.
template <class Operands>
void run_forward(const MlpDims& d, const Tensor& x, const Operands& params, float alpha, Tensor& y,
                 const char* op) {
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    mlp_forward_cuda(x, operands_of<const float>(params, d.shape), d.shape, alpha, y, d.models);
#else
    no_cuda_backend(op);
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    forward_cpu<T>(d, x, operands_of<const T>(params, d.shape), T(alpha), y);
  });
}

template <class Operands>
void run_backward(const MlpDims& d, const Tensor& x, const Operands& params, float alpha, const Tensor& dy,
                  Tensor& dx, const Operands& grads, const char* op) {
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    mlp_backward_cuda(x, operands_of<const float>(params, d.shape), d.shape, alpha, dy, dx,
                      operands_of<float>(grads, d.shape), d.models);
#else
    no_cuda_backend(op);
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    backward_cpu<T>(d, x, operands_of<const T>(params, d.shape), T(alpha), dy, dx, operands_of<T>(grads, d.shape));
  });
}

}  // namespace

void mlp_forward(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, Tensor& y) {
  const MlpDims d = check_packed(x, params, shape, alpha);
  require_shape(y, d.rows(shape.out), "mlp output y");
  require_same_device(x, y, "mlp input x", "mlp output y");
  run_forward(d, x, params, alpha, y, "mlp_forward");
}

void mlp_backward(const Tensor& x, const Tensor& params, const MlpShape& shape, float alpha, const Tensor& dy,
                  Tensor& dx, Tensor& dparams) {
  const MlpDims d = check_packed(x, params, shape, alpha);
  require_shape(dy, d.rows(shape.out), "mlp output gradient dy");
  require_same_device(x, dy, "mlp input x", "mlp output gradient dy");
  if (dx.defined()) require_shape(dx, x.shape(), "mlp input gradient dx");
  if (dparams.defined()) require_shape(dparams, params.shape(), "mlp parameter gradient");
  require_same_place(x, "mlp input x", dx, "mlp input gradient dx");
  require_same_place(x, "mlp input x", dparams, "mlp parameter gradient");
  run_backward(d, x, params, alpha, dy, dx, dparams, "mlp_backward");
}

void mlp_layers_forward(const Tensor& x, const MlpLayers& layers, float alpha, Tensor& y) {
  const MlpDims d = check_layers(x, layers, alpha);
  require_shape(y, d.rows(d.shape.out), "mlp_layers output y");
  require_same_device(x, y, "mlp_layers input x", "mlp_layers output y");
  run_forward(d, x, layers, alpha, y, "mlp_layers_forward");
}

void mlp_layers_backward(const Tensor& x, const MlpLayers& layers, float alpha, const Tensor& dy, Tensor& dx,
                         MlpLayers& grads) {
  const MlpDims d = check_layers(x, layers, alpha);
  require_shape(dy, d.rows(d.shape.out), "mlp_layers output gradient dy");
  require_same_device(x, dy, "mlp_layers input x", "mlp_layers output gradient dy");
  if (dx.defined()) require_shape(dx, x.shape(), "mlp_layers input gradient dx");
  require_same_place(x, "mlp_layers input x", dx, "mlp_layers input gradient dx");
  static const char* const grad_names[] = {"mlp_layers weight1 gradient", "mlp_layers bias1 gradient",
                                           "mlp_layers weight2 gradient", "mlp_layers bias2 gradient",
                                           "mlp_layers weight3 gradient", "mlp_layers bias3 gradient"};
  for (int k = 0; k < kParts; ++k) {
    if (grads[k].defined()) require_shape(grads[k], layers[k].shape(), grad_names[k]);
    require_same_place(x, "mlp_layers input x", grads[k], grad_names[k]);
  }
  run_backward(d, x, layers, alpha, dy, dx, grads, "mlp_layers_backward");
}

}  // namespace latf::kernels
