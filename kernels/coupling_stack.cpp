#include "kernels/coupling_stack.hpp"

#include <type_traits>

#include "kernels/coupling_stack_math.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void coupling_stack_forward_cuda(const Tensor& x, const Tensor& masks, const Tensor& flow_params,
                                 const CouplingSpec& spec, int layers, std::int64_t models, std::int64_t n, Tensor& y,
                                 Tensor& log_det);
void coupling_stack_backward_cuda(const Tensor& x, const Tensor& masks, const Tensor& flow_params,
                                  const CouplingSpec& spec, int layers, std::int64_t models, std::int64_t n,
                                  const Tensor& dy, const Tensor& dlog_det, Tensor& dx, Tensor& dflow_params);
#endif

namespace {

// The call's form: stacked when x is [M, N, d].
struct StackDims {
  bool stacked = false;
  std::int64_t models = 1, n = 0;
  Shape rows() const { return stacked ? Shape{models, n} : Shape{n}; }
};

StackDims check_operands(const Tensor& x, const Tensor& masks, const Tensor& flow_params, const CouplingSpec& spec,
                         int layers) {
  LATF_REQUIRE(layers >= 1 && layers <= kCouplingStackMaxLayers, "coupling_stack layers: expected 1 … ",
               kCouplingStackMaxLayers, ", got ", layers);
  LATF_REQUIRE(spec.dim >= 1 && spec.dim <= kCouplingMaxDim, "coupling_stack dimension d: expected 1 … ",
               kCouplingMaxDim, ", got ", spec.dim);
  LATF_REQUIRE(spec.hidden >= 1 && spec.hidden <= kCouplingStackMaxHidden, "coupling_stack hidden width: expected 1 … ",
               kCouplingStackMaxHidden, ", got ", spec.hidden);
  LATF_REQUIRE(spec.alpha > 0, "coupling_stack LeakyReLU slope: expected > 0, got ", spec.alpha);
  LATF_REQUIRE(spec.scale_clamp >= 0, "coupling_stack scale_clamp: expected ≥ 0 (0 = unbounded), got ",
               spec.scale_clamp);
  require_defined(x, "coupling_stack input x");
  StackDims d;
  d.stacked = x.rank() == 3;
  if (d.stacked) {
    LATF_REQUIRE(x.dim(2) == spec.dim, "coupling_stack input x: expected stacked shape [M, N, ", spec.dim, "], got ",
                 x.shape().str());
    d.models = x.dim(0);
  } else {
    LATF_REQUIRE(x.rank() == 2 && x.dim(1) == spec.dim, "coupling_stack input x: expected shape [N, ", spec.dim,
                 "] or stacked [M, N, ", spec.dim, "], got ", x.shape().str());
  }
  d.n = x.dim(x.rank() - 2);
  require_shape(masks, {layers, spec.dim},
                d.stacked ? "coupling_stack masks (shared by the stacked models)" : "coupling_stack masks");
  require_defined(flow_params, "coupling_stack flow parameters");
  const std::int64_t expected = coupling_stack_params_size(spec, layers, d.models);
  LATF_REQUIRE(flow_params.rank() == 1 && flow_params.numel() == expected, "coupling_stack flow parameters: expected [",
               expected, "] = L·M·(2·size + d) with L = ", layers, ", M = ", d.models,
               d.stacked ? " (stacked models of input x)" : "", ", size = ", spec.net().size(), ", d = ", spec.dim,
               "; got shape ", flow_params.shape().str());
  require_same_device(x, masks, "coupling_stack input x", "coupling_stack masks");
  require_same_device(x, flow_params, "coupling_stack input x", "coupling_stack flow parameters");
  if (x.device().is_cuda()) {
    LATF_REQUIRE(spec.hidden == 16 || spec.hidden == 32 || spec.hidden == 64, "coupling_stack on CUDA: hidden=",
                 spec.hidden, " has no fused kernel (16, 32 or 64); run the stack on the CPU or as coupling layers");
  }
  return d;
}

template <class T>
struct CpuAccumulator {
  T* gradient;  // null: parameter gradients not needed
  void operator()(std::int64_t index, T value) const {
    if (gradient != nullptr) gradient[index] += value;
  }
};

// The CPU runs the same row code as CUDA, with the hidden width a compile-time constant where
// CUDA has one (loops unrolled) and a run-time width otherwise.
template <class Fn>
void dispatch_hidden(int hidden, Fn&& fn) {
  switch (hidden) {
    case 16: return fn(std::integral_constant<int, 16>{});
    case 32: return fn(std::integral_constant<int, 32>{});
    case 64: return fn(std::integral_constant<int, 64>{});
    default: return fn(std::integral_constant<int, 0>{});
  }
}

template <class T, int H>
void forward_cpu(const Tensor& x, const Tensor& masks, const Tensor& flow_params, const CouplingSpec& spec, int layers,
                 const StackDims& dims, Tensor& y, Tensor& log_det) {
  const int d = spec.dim;
  const T *xp = x.data<T>(), *mp = masks.data<T>(), *pp = flow_params.data<T>();
  T *yp = y.data<T>(), *lp = log_det.data<T>();
  for (std::int64_t m = 0; m < dims.models; ++m) {
    const CouplingStackLayout lay = coupling_stack_layout(spec, dims.models, m);
    for (std::int64_t r = m * dims.n; r < (m + 1) * dims.n; ++r) {
      T row[kCouplingMaxDim];
      for (int j = 0; j < d; ++j) row[j] = xp[r * d + j];
      lp[r] = coupling_stack_row_forward<T, H>(pp, lay, mp, spec, layers, row);
      for (int j = 0; j < d; ++j) yp[r * d + j] = row[j];
    }
  }
}

template <class T, int H>
void backward_cpu(const Tensor& x, const Tensor& masks, const Tensor& flow_params, const CouplingSpec& spec, int layers,
                  const StackDims& dims, const Tensor& dy, const Tensor& dlog_det, Tensor& dx, Tensor& dflow_params) {
  const int d = spec.dim;
  const T *xp = x.data<T>(), *mp = masks.data<T>(), *pp = flow_params.data<T>();
  const T *gy = data_or_null<T>(dy), *gl = data_or_null<T>(dlog_det);
  T* gx = data_or_null<T>(dx);
  const CpuAccumulator<T> acc{data_or_null<T>(dflow_params)};
  for (std::int64_t m = 0; m < dims.models; ++m) {
    const CouplingStackLayout lay = coupling_stack_layout(spec, dims.models, m);
    for (std::int64_t r = m * dims.n; r < (m + 1) * dims.n; ++r) {
      T grad[kCouplingMaxDim];
      for (int j = 0; j < d; ++j) grad[j] = gy ? gy[r * d + j] : T(0);
      coupling_stack_row_backward<T, H>(pp, lay, mp, spec, layers, xp + r * d, grad, gl ? gl[r] : T(0), acc);
      if (gx)
        for (int j = 0; j < d; ++j) gx[r * d + j] += grad[j];
    }
  }
}

}  // namespace

std::int64_t coupling_stack_params_size(const CouplingSpec& spec, int layers, std::int64_t models) {
  return std::int64_t(layers) * models * (2 * spec.net().size() + spec.dim);
}

void coupling_stack_forward(const Tensor& x, const Tensor& masks, const Tensor& flow_params, const CouplingSpec& spec,
                            int layers, Tensor& y, Tensor& log_det) {
  const StackDims dims = check_operands(x, masks, flow_params, spec, layers);
  require_shape(y, x.shape(), "coupling_stack output y");
  require_shape(log_det, dims.rows(), "coupling_stack output log_det");
  require_same_device(x, y, "coupling_stack input x", "coupling_stack output y");
  require_same_device(x, log_det, "coupling_stack input x", "coupling_stack output log_det");
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    coupling_stack_forward_cuda(x, masks, flow_params, spec, layers, dims.models, dims.n, y, log_det);
#else
    no_cuda_backend("coupling_stack_forward");
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    dispatch_hidden(spec.hidden, [&](auto width) {
      forward_cpu<decltype(zero), decltype(width)::value>(x, masks, flow_params, spec, layers, dims, y, log_det);
    });
  });
}

void coupling_stack_backward(const Tensor& x, const Tensor& masks, const Tensor& flow_params,
                             const CouplingSpec& spec, int layers, const Tensor& dy, const Tensor& dlog_det,
                             Tensor& dx, Tensor& dflow_params) {
  const StackDims dims = check_operands(x, masks, flow_params, spec, layers);
  if (dy.defined()) require_shape(dy, x.shape(), "coupling_stack output gradient dy");
  if (dlog_det.defined()) require_shape(dlog_det, dims.rows(), "coupling_stack log_det gradient");
  if (dx.defined()) require_shape(dx, x.shape(), "coupling_stack input gradient dx");
  if (dflow_params.defined())
    require_shape(dflow_params, flow_params.shape(), "coupling_stack flow parameter gradient");
  require_same_place(x, "coupling_stack input x", dy, "coupling_stack output gradient dy");
  require_same_place(x, "coupling_stack input x", dlog_det, "coupling_stack log_det gradient");
  require_same_place(x, "coupling_stack input x", dx, "coupling_stack input gradient dx");
  require_same_place(x, "coupling_stack input x", dflow_params, "coupling_stack flow parameter gradient");
  if (!dx.defined() && !dflow_params.defined()) return;
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    coupling_stack_backward_cuda(x, masks, flow_params, spec, layers, dims.models, dims.n, dy, dlog_det, dx,
                                 dflow_params);
#else
    no_cuda_backend("coupling_stack_backward");
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) {
    dispatch_hidden(spec.hidden, [&](auto width) {
      backward_cpu<decltype(zero), decltype(width)::value>(x, masks, flow_params, spec, layers, dims, dy, dlog_det, dx,
                                                           dflow_params);
    });
  });
}

}  // namespace latf::kernels
