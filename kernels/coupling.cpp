#include "kernels/coupling.hpp"

#include "kernels/coupling_math.hpp"
#include "kernels/mlp_cpu.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void coupling_forward_cuda(const Tensor& x, const Tensor& mask, const Tensor& scale_params, const Tensor& shift_params,
                           const Tensor& scale_vector, const CouplingSpec& spec, Tensor& y, Tensor& log_det,
                           std::int64_t models);
void coupling_backward_cuda(const Tensor& x, const Tensor& mask, const Tensor& scale_params,
                            const Tensor& shift_params, const Tensor& scale_vector, const CouplingSpec& spec,
                            const Tensor& dy, const Tensor& dlog_det, Tensor& dx, Tensor& dscale_params,
                            Tensor& dshift_params, Tensor& dscale_vector, std::int64_t models);
#endif

namespace {

// The call's form: stacked when x has rank 3 [M, N, d]; then scale/shift params are [M, size] and
// a is [M, d], while the mask stays [d], shared by every model.
struct CouplingDims {
  bool stacked = false;
  std::int64_t models = 1, n = 0;
  Shape rows() const { return stacked ? Shape{models, n} : Shape{n}; }
};

// Per-model operand `t` of single-form shape {width}: [width] in the single form, [M, width] stacked.
void require_per_model(const Tensor& t, const CouplingDims& d, std::int64_t width, const Tensor& x,
                       const char* operand) {
  require_defined(t, operand);
  if (d.stacked) {
    LATF_REQUIRE(t.rank() == 2, operand, ": expected stacked shape [", d.models, ", ", width,
                 "] like the stacked input x of shape ", x.shape().str(), ", got ", t.shape().str());
    LATF_REQUIRE(t.dim(0) == d.models, operand, ": expected ", d.models, " stacked models to match input x of shape ",
                 x.shape().str(), ", got shape ", t.shape().str());
  }
  require_shape(t, d.stacked ? Shape{d.models, width} : Shape{width}, operand);
}

CouplingDims check_operands(const Tensor& x, const Tensor& mask, const Tensor& scale_params, const Tensor& shift_params,
                            const Tensor& scale_vector, const CouplingSpec& spec) {
  LATF_REQUIRE(spec.dim >= 1, "coupling dimension d: expected ≥ 1, got ", spec.dim);
  LATF_REQUIRE(spec.hidden >= 1, "coupling hidden width: expected ≥ 1, got ", spec.hidden);
  LATF_REQUIRE(spec.alpha > 0, "coupling LeakyReLU slope: expected > 0, got ", spec.alpha);
  LATF_REQUIRE(spec.scale_clamp >= 0, "coupling scale_clamp: expected ≥ 0 (0 = unbounded), got ", spec.scale_clamp);
  require_defined(x, "coupling input x");
  CouplingDims d;
  d.stacked = x.rank() == 3;
  if (d.stacked) {
    LATF_REQUIRE(x.dim(2) == spec.dim, "coupling input x: expected stacked shape [M, N, ", spec.dim, "], got ",
                 x.shape().str());
    d.models = x.dim(0);
  } else {
    LATF_REQUIRE(x.rank() == 2 && x.dim(1) == spec.dim, "coupling input x: expected shape [N, ", spec.dim,
                 "] or stacked [M, N, ", spec.dim, "], got ", x.shape().str());
  }
  d.n = x.dim(x.rank() - 2);
  require_shape(mask, {spec.dim}, d.stacked ? "coupling mask (shared by the stacked models)" : "coupling mask");
  require_per_model(scale_params, d, spec.net().size(), x, "coupling scale-net parameters");
  require_per_model(shift_params, d, spec.net().size(), x, "coupling shift-net parameters");
  require_per_model(scale_vector, d, spec.dim, x, "coupling scale vector a");
  require_same_device(x, mask, "coupling input x", "coupling mask");
  require_same_device(x, scale_params, "coupling input x", "coupling scale-net parameters");
  require_same_device(x, shift_params, "coupling input x", "coupling shift-net parameters");
  require_same_device(x, scale_vector, "coupling input x", "coupling scale vector a");
  if (x.device().is_cuda()) {
    LATF_REQUIRE(spec.dim <= kCouplingMaxDim && mlp_fused_cuda_supported(spec.net()), "coupling on CUDA: d=",
                 spec.dim, " hidden=", spec.hidden, " has no fused kernel (d ≤ ", kCouplingMaxDim,
                 ", hidden 16/32/64); run the layer on the CPU or compose it from linear layers");
  }
  return d;
}

// Model m's slice of a per-model operand (the whole tensor in the single form); undefined stays undefined.
Tensor model_slice(const Tensor& t, std::int64_t m, const Shape& slice_shape) {
  return t.defined() ? t.view(m * slice_shape.numel(), slice_shape) : Tensor();
}

// The forward's intermediates as views of one workspace tensor (planar: each block [N, width]).
template <class T>
struct CpuCoupling {
  const CouplingSpec& spec;
  std::int64_t n;
  MlpShape net;
  Tensor workspace;
  Tensor conditioner_input, s, t;  // [N, d] each
  cpu::MlpActivations scale_act, shift_act;

  // Views into `space` (allocated here when undefined); computes the intermediates unless
  // `filled` says the forward already did.
  CpuCoupling(const CouplingSpec& spec_, const Tensor& x, const Tensor& mask, const Tensor& scale_params,
              const Tensor& shift_params, Tensor space, bool filled)
      : spec(spec_), n(x.dim(0)), net(spec_.net()),
        workspace(space.defined() ? space
                                  : Tensor::empty({coupling_workspace_size(x.dim(0), spec_)}, Device::cpu(), x.dtype())),
        conditioner_input(block(0, spec_.dim)), s(block(1, spec_.dim)), t(block(2, spec_.dim)),
        scale_act(block(3, spec_.hidden), block(4, spec_.hidden)),
        shift_act(block(5, spec_.hidden), block(6, spec_.hidden)) {
    if (!filled) compute(x, mask, scale_params, shift_params);
  }

  // Block i of the layout [c | s | t | scale h1 | scale h2 | shift h1 | shift h2].
  Tensor block(int i, int width) const {
    const std::int64_t d = spec.dim, h = spec.hidden;
    const std::int64_t start = i < 3 ? i * n * d : 3 * n * d + (i - 3) * n * h;
    return workspace.view(start, {n, width});
  }

  void compute(const Tensor& x, const Tensor& mask, const Tensor& scale_params, const Tensor& shift_params) {
    const T* xp = x.data<T>();
    const T* m = mask.data<T>();
    T* c = conditioner_input.data<T>();
    for (std::int64_t i = 0; i < n * spec.dim; ++i) c[i] = xp[i] * m[i % spec.dim];
    auto C = matrix<T>(conditioner_input, n, spec.dim);
    cpu::mlp_forward<T>(C, scale_params.data<T>(), net, T(spec.alpha), scale_act, matrix<T>(s, n, spec.dim));
    cpu::mlp_forward<T>(C, shift_params.data<T>(), net, T(spec.alpha), shift_act, matrix<T>(t, n, spec.dim));
  }
};

void check_workspace(const Tensor* workspace, const Tensor& x, const CouplingDims& d, const CouplingSpec& spec) {
  if (workspace == nullptr || !x.device().is_cpu()) return;
  require_shape(*workspace, {coupling_workspace_size(d.models, d.n, spec)},
                d.stacked ? "coupling workspace (stacked: models × per-model size)" : "coupling workspace");
  require_same_device(x, *workspace, "coupling input x", "coupling workspace");
}

// The single-form CPU layer on one model's tensors (`workspace` may be undefined).
template <class T>
void forward_cpu(const Tensor& x, const Tensor& mask, const Tensor& scale_params, const Tensor& shift_params,
                 const Tensor& scale_vector, const CouplingSpec& spec, const Tensor& y, const Tensor& log_det,
                 const Tensor& workspace) {
  CpuCoupling<T> run(spec, x, mask, scale_params, shift_params, workspace, false);
  const bool generative = spec.direction == CouplingDirection::Generative;
  const T *xp = x.data<T>(), *m = mask.data<T>(), *a = scale_vector.data<T>();
  const T *s = run.s.template data<T>(), *t = run.t.template data<T>();
  T *yp = y.data<T>(), *ld = log_det.data<T>();
  const int d = spec.dim;
  for (std::int64_t r = 0; r < run.n; ++r) {
    T total = 0;
    for (int j = 0; j < d; ++j) {
      const std::int64_t k = r * d + j;
      const auto e = coupling_element<T>(xp[k], m[j], s[k], t[k], a[j], T(spec.scale_clamp), generative);
      yp[k] = e.y;
      total += e.log_det;
    }
    ld[r] = total;
  }
}

template <class T>
void backward_cpu(const Tensor& x, const Tensor& mask, const Tensor& scale_params, const Tensor& shift_params,
                  const Tensor& scale_vector, const CouplingSpec& spec, const Tensor& dy, const Tensor& dlog_det,
                  const Tensor& dx, const Tensor& dscale_params, const Tensor& dshift_params,
                  const Tensor& dscale_vector, const Tensor& workspace) {
  CpuCoupling<T> run(spec, x, mask, scale_params, shift_params, workspace, workspace.defined());
  const bool generative = spec.direction == CouplingDirection::Generative;
  const int d = spec.dim;
  const std::int64_t n = run.n;
  Tensor ds = Tensor::empty(x.shape(), Device::cpu(), x.dtype());
  Tensor dt = Tensor::empty(x.shape(), Device::cpu(), x.dtype());
  Tensor dc = Tensor::zeros(x.shape(), Device::cpu(), x.dtype());
  const T *xp = x.data<T>(), *m = mask.data<T>(), *a = scale_vector.data<T>();
  const T *s = run.s.template data<T>(), *t = run.t.template data<T>();
  const T* gy = data_or_null<T>(dy);
  const T* gl = data_or_null<T>(dlog_det);
  T *gx = data_or_null<T>(dx), *ga = data_or_null<T>(dscale_vector);
  T *gs = ds.data<T>(), *gt = dt.data<T>();
  for (std::int64_t r = 0; r < n; ++r) {
    for (int j = 0; j < d; ++j) {
      const std::int64_t k = r * d + j;
      const auto g = coupling_element_backward<T>(xp[k], m[j], s[k], t[k], a[j], T(spec.scale_clamp), generative,
                                                  gy ? gy[k] : T(0), gl ? gl[r] : T(0));
      if (gx) gx[k] += g.x;
      if (ga) ga[j] += g.a;
      gs[k] = g.s;
      gt[k] = g.t;
    }
  }
  auto C = matrix<T>(run.conditioner_input, n, d);
  const bool need_dc = dx.defined();
  cpu::mlp_backward<T>(C, scale_params.data<T>(), run.net, T(spec.alpha), run.scale_act, matrix<T>(ds, n, d),
                       need_dc ? dc.data<T>() : nullptr, data_or_null<T>(dscale_params));
  cpu::mlp_backward<T>(C, shift_params.data<T>(), run.net, T(spec.alpha), run.shift_act, matrix<T>(dt, n, d),
                       need_dc ? dc.data<T>() : nullptr, data_or_null<T>(dshift_params));
  if (need_dc) {
    const T* c = dc.data<T>();
    for (std::int64_t k = 0; k < n * d; ++k) gx[k] += m[k % d] * c[k];
  }
}

}  // namespace

std::int64_t coupling_workspace_size(std::int64_t rows, const CouplingSpec& spec) {
  return rows * (3 * std::int64_t(spec.dim) + 4 * std::int64_t(spec.hidden));
}

std::int64_t coupling_workspace_size(std::int64_t models, std::int64_t rows, const CouplingSpec& spec) {
  return models * coupling_workspace_size(rows, spec);
}

void coupling_forward(const Tensor& x, const Tensor& mask, const Tensor& scale_params, const Tensor& shift_params,
                      const Tensor& scale_vector, const CouplingSpec& spec, Tensor& y, Tensor& log_det,
                      Tensor* workspace) {
  const CouplingDims d = check_operands(x, mask, scale_params, shift_params, scale_vector, spec);
  require_shape(y, x.shape(), "coupling output y");
  require_shape(log_det, d.rows(), "coupling output log_det");
  require_same_device(x, y, "coupling input x", "coupling output y");
  require_same_device(x, log_det, "coupling input x", "coupling output log_det");
  check_workspace(workspace, x, d, spec);
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    coupling_forward_cuda(x, mask, scale_params, shift_params, scale_vector, spec, y, log_det, d.models);
#else
    no_cuda_backend("coupling_forward");
#endif
    return;
  }
  const Shape rows{d.n, spec.dim}, params{spec.net().size()}, vec{spec.dim};
  const Tensor space = workspace ? *workspace : Tensor();
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    for (std::int64_t m = 0; m < d.models; ++m)
      forward_cpu<T>(model_slice(x, m, rows), mask, model_slice(scale_params, m, params),
                     model_slice(shift_params, m, params), model_slice(scale_vector, m, vec), spec,
                     model_slice(y, m, rows), model_slice(log_det, m, {d.n}),
                     model_slice(space, m, {coupling_workspace_size(d.n, spec)}));
  });
}

void coupling_backward(const Tensor& x, const Tensor& mask, const Tensor& scale_params, const Tensor& shift_params,
                       const Tensor& scale_vector, const CouplingSpec& spec, const Tensor& dy, const Tensor& dlog_det,
                       Tensor& dx, Tensor& dscale_params, Tensor& dshift_params, Tensor& dscale_vector,
                       const Tensor* workspace) {
  const CouplingDims d = check_operands(x, mask, scale_params, shift_params, scale_vector, spec);
  check_workspace(workspace, x, d, spec);
  if (dy.defined()) require_shape(dy, x.shape(), "coupling output gradient dy");
  if (dlog_det.defined()) require_shape(dlog_det, d.rows(), "coupling log_det gradient");
  if (dx.defined()) require_shape(dx, x.shape(), "coupling input gradient dx");
  if (dscale_params.defined()) require_shape(dscale_params, scale_params.shape(), "coupling scale-net gradient");
  if (dshift_params.defined()) require_shape(dshift_params, shift_params.shape(), "coupling shift-net gradient");
  if (dscale_vector.defined()) require_shape(dscale_vector, scale_vector.shape(), "coupling scale vector gradient");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&dy, &dlog_det, &dx, &dscale_params, &dshift_params,
                                                              &dscale_vector})
    require_same_place(x, "coupling input x", *t, "a coupling gradient");
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    coupling_backward_cuda(x, mask, scale_params, shift_params, scale_vector, spec, dy, dlog_det, dx, dscale_params,
                           dshift_params, dscale_vector, d.models);
#else
    no_cuda_backend("coupling_backward");
#endif
    return;
  }
  const Shape rows{d.n, spec.dim}, params{spec.net().size()}, vec{spec.dim};
  const Tensor space = workspace ? *workspace : Tensor();
  dispatch_cpu_dtype(x, [&](auto zero) {
    using T = decltype(zero);
    for (std::int64_t m = 0; m < d.models; ++m)
      backward_cpu<T>(model_slice(x, m, rows), mask, model_slice(scale_params, m, params),
                      model_slice(shift_params, m, params), model_slice(scale_vector, m, vec), spec,
                      model_slice(dy, m, rows), model_slice(dlog_det, m, {d.n}), model_slice(dx, m, rows),
                      model_slice(dscale_params, m, params), model_slice(dshift_params, m, params),
                      model_slice(dscale_vector, m, vec), model_slice(space, m, {coupling_workspace_size(d.n, spec)}));
  });
}

}  // namespace latf::kernels
