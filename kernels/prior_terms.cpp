#include "kernels/prior_terms.hpp"

#include <climits>
#include <cmath>
#include <vector>

#include "kernels/prior_terms_math.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void vamp_kl_term_forward_cuda(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const Tensor& means,
                               const Tensor& component_log_variance, const Tensor& mixture_logits,
                               const Tensor& weights, Tensor& loss);
void vamp_kl_term_backward_cuda(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const Tensor& means,
                                const Tensor& component_log_variance, const Tensor& mixture_logits,
                                const Tensor& weights, const Tensor& dloss, Tensor& du, Tensor& dmean,
                                Tensor& dlog_variance, Tensor& dmeans, Tensor& dcomponent_log_variance,
                                Tensor& dmixture_logits);
// taus undefined: the single form with `tau`.
void tilted_nll_term_forward_cuda(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature, float tau,
                                  const Tensor& taus, const Tensor& weights, Tensor& loss);
void tilted_nll_term_backward_cuda(const Tensor& z, const Tensor& inverse_temperature, float tau, const Tensor& taus,
                                   const Tensor& weights, const Tensor& dloss, Tensor& dz, Tensor& dlog_det);
#endif

namespace {

using prior_terms::row_gradient;
using prior_terms::TiltedNllRows;
using prior_terms::VampKlRows;

// ---------------------------------------------------------------- checks

// The rows operand (u or z) fixes the form: rank 2 single, rank 3 stacked. Shapes of the other
// operands are then built with per_model (a leading M in the stacked form).
struct Form {
  bool stacked;
  std::int64_t models, rows, d;
  Shape per_model(std::int64_t a) const { return stacked ? Shape{models, a} : Shape{a}; }
  Shape per_model(std::int64_t a, std::int64_t b) const { return stacked ? Shape{models, a, b} : Shape{a, b}; }
};

Form check_rows(const Tensor& rows, const char* name) {
  require_defined(rows, name);
  LATF_REQUIRE(rows.rank() == 2 || rows.rank() == 3, name,
               ": expected rank 2 [N, d] (or rank 3 [M, N, d] in the stacked form), got shape ", rows.shape().str());
  const bool stacked = rows.rank() == 3;
  const Form f{stacked, stacked ? rows.dim(0) : 1, rows.dim(stacked ? 1 : 0), rows.dim(stacked ? 2 : 1)};
  LATF_REQUIRE(f.rows >= 1 && f.d >= 1, name, ": expected at least one row", stacked ? " per model" : "",
               " of width d >= 1, got shape ", rows.shape().str());
  LATF_REQUIRE(f.models >= 1 && f.models <= 65535, name, ": expected 1 to 65535 models (one CUDA launch), got shape ",
               rows.shape().str());
  LATF_REQUIRE(f.d <= INT_MAX, name, ": width ", f.d, " exceeds ", INT_MAX);
  return f;
}

// Same device and dtype as the rows operand.
void require_companion(const Tensor& t, const char* name, const Tensor& rows, const char* rows_name) {
  require_same_device(rows, t, rows_name, name);
  LATF_REQUIRE(t.dtype() == rows.dtype(), name, ": expected dtype ", dtype_name(rows.dtype()), " of ", rows_name,
               ", got ", dtype_name(t.dtype()));
}

void require_operand(const Tensor& t, const Shape& shape, const char* name, const Tensor& rows, const char* rows_name) {
  require_defined(t, name);
  require_shape(t, shape, name);
  require_companion(t, name, rows, rows_name);
}

void require_optional(const Tensor& t, const Shape& shape, const char* name, const Tensor& rows,
                      const char* rows_name) {
  if (t.defined()) require_operand(t, shape, name, rows, rows_name);
}

// A log-variance: the (per-model) scalar or one per element of a [rows, d] partner; returns
// whether it is the scalar.
bool require_log_variance(const Tensor& t, const Form& f, std::int64_t rows, const char* name, const Tensor& u,
                          const char* u_name) {
  require_defined(t, name);
  const Shape scalar = f.per_model(1), per_element = f.per_model(rows, f.d);
  const bool is_scalar = t.shape() == scalar;
  LATF_REQUIRE(is_scalar || t.shape() == per_element, name, ": expected ", f.stacked ? "stacked shape " : "shape ",
               scalar.str(), " or ", per_element.str(), ", got ", t.shape().str());
  require_companion(t, name, u, u_name);
  return is_scalar;
}

constexpr const char* kU = "vamp_kl_term u";

// Checks every operand of vamp_kl_term; returns the form and K in `components`.
Form check_vamp_kl(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const Tensor& means,
                   const Tensor& component_log_variance, const Tensor& mixture_logits, const Tensor& weights,
                   std::int64_t& components) {
  const Form f = check_rows(u, kU);
  require_operand(mean, u.shape(), "vamp_kl_term mean", u, kU);
  require_log_variance(log_variance, f, f.rows, "vamp_kl_term log_variance", u, kU);
  require_defined(means, "vamp_kl_term means");
  const int k_axis = f.stacked ? 1 : 0;
  LATF_REQUIRE(means.rank() == k_axis + 2 && (!f.stacked || means.dim(0) == f.models) &&
                   means.dim(k_axis + 1) == f.d && means.dim(k_axis) >= 1,
               "vamp_kl_term means: expected ", f.stacked ? "stacked shape [M, K, d]" : "shape [K, d]",
               " with K >= 1 and d = ", f.d, f.stacked ? concat(", M = ", f.models) : std::string(), " of u ",
               u.shape().str(), ", got shape ", means.shape().str());
  components = means.dim(k_axis);
  LATF_REQUIRE(components * f.d <= INT_MAX, "vamp_kl_term means: ", components * f.d, " elements per model exceed ",
               INT_MAX);
  require_companion(means, "vamp_kl_term means", u, kU);
  require_log_variance(component_log_variance, f, components, "vamp_kl_term component_log_variance", u, kU);
  require_operand(mixture_logits, f.per_model(components), "vamp_kl_term mixture_logits", u, kU);
  require_optional(weights, f.per_model(f.rows), "vamp_kl_term weights", u, kU);
  return f;
}

constexpr const char* kZ = "tilted_nll_term z";

Form check_tilted_nll(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature,
                      const Tensor& weights) {
  const Form f = check_rows(z, kZ);
  require_operand(inverse_temperature, f.per_model(f.rows), "tilted_nll_term inverse_temperature", z, kZ);
  require_optional(log_det, f.per_model(f.rows), "tilted_nll_term log_det", z, kZ);
  require_optional(weights, f.per_model(f.rows), "tilted_nll_term weights", z, kZ);
  return f;
}

void require_loss(const Tensor& loss, const Form& f, const char* name, const Tensor& rows, const char* rows_name) {
  require_operand(loss, {f.models}, name, rows, rows_name);
}

// taus are float32 whatever z's dtype (the float64 CPU path serves the gradient checker).
void check_taus(const Tensor& taus, const Form& f, const Tensor& z) {
  LATF_REQUIRE(f.stacked, kZ, ": expected stacked shape [M, N, d] with taus [M], got shape [", f.rows, ", ", f.d,
               "] (a single-form z takes one float tau)");
  require_defined(taus, "tilted_nll_term taus");
  require_shape(taus, {f.models}, "tilted_nll_term taus");
  LATF_REQUIRE(taus.dtype() == DType::Float32, "tilted_nll_term taus: expected dtype float32, got ",
               dtype_name(taus.dtype()));
  LATF_REQUIRE(taus.device() == z.device(), "tilted_nll_term taus: expected z's device ", z.device().str(), ", got ",
               taus.device().str());
}

// Model m's slice of a stacked operand; [M] and [M, 1] give [1]. Undefined stays undefined.
Tensor model_slice(const Tensor& t, std::int64_t m) {
  if (!t.defined()) return t;
  const Shape& s = t.shape();
  const Shape inner = s.rank() == 1 ? Shape{1} : s.rank() == 2 ? Shape{s[1]} : Shape{s[1], s[2]};
  return t.view(m * inner.numel(), inner);
}

// ---------------------------------------------------------------- CPU (single form)

// The VampPrior's per-call constants on the host, laid out [K, d] like the CUDA path's, so that
// both evaluate each component term in the same order.
template <class T>
struct HostPrior {
  Tensor storage;
  VampConstants<T> c;
  int lv_row_stride, lv_step;
};

template <class T>
HostPrior<T> prepare_prior(const Tensor& means, const Tensor& log_variance, const Tensor& mixture_logits) {
  const int k_count = static_cast<int>(means.dim(0)), d = static_cast<int>(means.dim(1));
  const bool scalar = log_variance.rank() == 1;
  const std::int64_t kd = std::int64_t(k_count) * d;
  HostPrior<T> h;
  h.lv_row_stride = scalar ? 0 : d;
  h.lv_step = scalar ? 0 : 1;
  h.storage = Tensor::empty({2 * kd + 2 * std::int64_t(k_count)}, Device::cpu(), means.dtype());
  T* base = h.storage.template data<T>();
  h.c = VampConstants<T>{base, base + kd, base + 2 * kd, base + 2 * kd + k_count, k_count, d, d, 1};
  const VampParameters<T> p{means.data<T>(), log_variance.data<T>(), mixture_logits.data<T>(), k_count, d,
                            h.lv_row_stride, h.lv_step};
  const T log_normalizer = log_sum_exp(p.logits, k_count);
  for (int k = 0; k < k_count; ++k) vamp_prepare_component(p, log_normalizer, k, h.c);
  return h;
}

template <class T>
VampKlRows<T> vamp_kl_rows(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const HostPrior<T>& h) {
  const int d = static_cast<int>(u.dim(1));
  const bool scalar = log_variance.rank() == 1;
  return {u.data<T>(), mean.data<T>(), log_variance.data<T>(), scalar ? 0 : d, scalar ? 0 : 1, h.c,
          h.lv_row_stride, h.lv_step, d};
}

// (1/N) Σ_i w_i term(i), summed in double whatever T.
template <class T, class Term>
void weighted_mean_cpu(const Term& term, std::int64_t n, const Tensor& weights, Tensor& loss) {
  const T* w = data_or_null<T>(weights);
  double total = 0.0;
  for (std::int64_t i = 0; i < n; ++i) total += double(prior_terms::row_weight(w, i)) * double(term(i));
  loss.data<T>()[0] = static_cast<T>(total / double(n));
}

template <class T>
void vamp_kl_forward_cpu(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const Tensor& means,
                         const Tensor& component_log_variance, const Tensor& mixture_logits, const Tensor& weights,
                         Tensor& loss) {
  const HostPrior<T> h = prepare_prior<T>(means, component_log_variance, mixture_logits);
  const VampKlRows<T> p = vamp_kl_rows<T>(u, mean, log_variance, h);
  weighted_mean_cpu<T>([&](std::int64_t i) { return prior_terms::vamp_kl_row(p, i); }, u.dim(0), weights, loss);
}

// Row-shared gradients summed in double over the rows and added to the outputs once.
template <class T>
struct HostSink {
  double* means = nullptr;         // [K·d]
  double* prior_lv = nullptr;      // [1] or [K·d]
  double* logits = nullptr;        // [K]
  T* encoder_lv = nullptr;         // per element: row-owned, added directly
  double* encoder_lv_total = nullptr;  // the scalar's sum
  void mean(int index, T v) {
    if (means) means[index] += v;
  }
  void log_variance(int index, T v) {
    if (prior_lv) prior_lv[index] += v;
  }
  void logit(int k, T v) {
    if (logits) logits[k] += v;
  }
  void encoder_log_variance(std::int64_t index, T v) {
    if (encoder_lv_total) {
      *encoder_lv_total += v;
    } else if (encoder_lv) {
      encoder_lv[index] += v;
    }
  }
};

template <class T>
void add_sums(const double* sums, std::int64_t count, Tensor& target) {
  T* out = target.data<T>();
  for (std::int64_t e = 0; e < count; ++e) out[e] += static_cast<T>(sums[e]);
}

template <class T>
void vamp_kl_backward_cpu(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const Tensor& means,
                          const Tensor& component_log_variance, const Tensor& mixture_logits, const Tensor& weights,
                          const Tensor& dloss, Tensor& du, Tensor& dmean, Tensor& dlog_variance, Tensor& dmeans,
                          Tensor& dcomponent_log_variance, Tensor& dmixture_logits) {
  const HostPrior<T> h = prepare_prior<T>(means, component_log_variance, mixture_logits);
  const VampKlRows<T> p = vamp_kl_rows<T>(u, mean, log_variance, h);
  const std::int64_t n = u.dim(0), k_count = means.dim(0), kd = means.numel();
  const std::int64_t prior_lv_count = component_log_variance.numel();
  Tensor sums = Tensor::zeros({kd + prior_lv_count + k_count + 1}, Device::cpu(), DType::Float64);
  double* base = sums.data<double>();
  HostSink<T> sink;
  if (dmeans.defined()) sink.means = base;
  if (dcomponent_log_variance.defined()) sink.prior_lv = base + kd;
  if (dmixture_logits.defined()) sink.logits = base + kd + prior_lv_count;
  if (dlog_variance.defined()) {
    if (log_variance.rank() == 1) {
      sink.encoder_lv_total = base + kd + prior_lv_count + k_count;
    } else {
      sink.encoder_lv = dlog_variance.data<T>();
    }
  }
  const T* w = data_or_null<T>(weights);
  const T g = dloss.data<T>()[0] / T(n);
  T* pdu = data_or_null<T>(du);
  T* pdm = data_or_null<T>(dmean);
  for (std::int64_t i = 0; i < n; ++i)
    prior_terms::vamp_kl_row_backward(p, i, row_gradient(g, w, i), pdu ? pdu + i * p.d : nullptr,
                                      pdm ? pdm + i * p.d : nullptr, sink);
  if (sink.means) add_sums<T>(sink.means, kd, dmeans);
  if (sink.prior_lv) add_sums<T>(sink.prior_lv, prior_lv_count, dcomponent_log_variance);
  if (sink.logits) add_sums<T>(sink.logits, k_count, dmixture_logits);
  if (sink.encoder_lv_total) add_sums<T>(sink.encoder_lv_total, 1, dlog_variance);
}

template <class T>
TiltedNllRows<T> tilted_rows(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature, T tau) {
  return {z.data<T>(), inverse_temperature.data<T>(), data_or_null<T>(log_det), tau, static_cast<int>(z.dim(1))};
}

template <class T>
void tilted_forward_cpu(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature, T tau,
                        const Tensor& weights, Tensor& loss) {
  const TiltedNllRows<T> p = tilted_rows<T>(z, log_det, inverse_temperature, tau);
  weighted_mean_cpu<T>([&](std::int64_t i) { return prior_terms::tilted_nll_row(p, i); }, z.dim(0), weights, loss);
}

template <class T>
void tilted_backward_cpu(const Tensor& z, const Tensor& inverse_temperature, T tau, const Tensor& weights,
                         const Tensor& dloss, Tensor& dz, Tensor& dlog_det) {
  const TiltedNllRows<T> p = tilted_rows<T>(z, Tensor(), inverse_temperature, tau);
  const std::int64_t n = z.dim(0);
  const T* w = data_or_null<T>(weights);
  const T g = dloss.data<T>()[0] / T(n);
  T* pdz = data_or_null<T>(dz);
  T* pdl = data_or_null<T>(dlog_det);
  for (std::int64_t i = 0; i < n; ++i)
    prior_terms::tilted_nll_row_backward(p, i, row_gradient(g, w, i), pdz ? pdz + i * p.d : nullptr, pdl);
}

float checked_tau(float tau) {
  LATF_REQUIRE(std::isfinite(tau), "tilted_nll_term tau: expected a finite value, got ", tau);
  return tau;
}

// The stacked CPU form's taus, read on the host.
std::vector<float> host_taus(const Tensor& taus) {
  const std::vector<float> values = taus.to(Device::cpu()).to_vector();
  for (std::size_t m = 0; m < values.size(); ++m)
    LATF_REQUIRE(std::isfinite(values[m]), "tilted_nll_term taus: expected finite values, got ", values[m],
                 " for model ", m);
  return values;
}

bool any_defined(std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors)
    if (t->defined()) return true;
  return false;
}

// The backward operands of either tilted_nll_term overload; false when no gradient is wanted.
bool check_tilted_gradients(const Form& f, const Tensor& z, const Tensor& log_det, const Tensor& dloss,
                            const Tensor& dz, const Tensor& dlog_det) {
  require_loss(dloss, f, "tilted_nll_term output gradient dloss", z, kZ);
  require_optional(dz, z.shape(), "tilted_nll_term z gradient", z, kZ);
  require_optional(dlog_det, f.per_model(f.rows), "tilted_nll_term log_det gradient", z, kZ);
  LATF_REQUIRE(log_det.defined() || !dlog_det.defined(),
               "tilted_nll_term log_det gradient: given, but log_det is undefined (an identity flow has none)");
  return dz.defined() || dlog_det.defined();
}

}  // namespace

// ---------------------------------------------------------------- public entry points

void vamp_kl_term_forward(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const Tensor& means,
                          const Tensor& component_log_variance, const Tensor& mixture_logits, const Tensor& weights,
                          Tensor& loss) {
  std::int64_t components = 0;
  const Form f =
      check_vamp_kl(u, mean, log_variance, means, component_log_variance, mixture_logits, weights, components);
  require_loss(loss, f, "vamp_kl_term output loss", u, kU);
  if (u.device().is_cuda()) {
#if LATF_WITH_CUDA
    vamp_kl_term_forward_cuda(u, mean, log_variance, means, component_log_variance, mixture_logits, weights, loss);
#else
    no_cuda_backend("vamp_kl_term_forward");
#endif
    return;
  }
  for (std::int64_t m = 0; m < f.models; ++m) {
    const auto at = [&](const Tensor& t) { return f.stacked ? model_slice(t, m) : t; };
    Tensor loss_m = at(loss);
    dispatch_cpu_dtype(u, [&](auto zero) {
      vamp_kl_forward_cpu<decltype(zero)>(at(u), at(mean), at(log_variance), at(means), at(component_log_variance),
                                          at(mixture_logits), at(weights), loss_m);
    });
  }
}

void vamp_kl_term_backward(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const Tensor& means,
                           const Tensor& component_log_variance, const Tensor& mixture_logits, const Tensor& weights,
                           const Tensor& dloss, Tensor& du, Tensor& dmean, Tensor& dlog_variance, Tensor& dmeans,
                           Tensor& dcomponent_log_variance, Tensor& dmixture_logits) {
  std::int64_t components = 0;
  const Form f =
      check_vamp_kl(u, mean, log_variance, means, component_log_variance, mixture_logits, weights, components);
  require_loss(dloss, f, "vamp_kl_term output gradient dloss", u, kU);
  require_optional(du, u.shape(), "vamp_kl_term u gradient", u, kU);
  require_optional(dmean, mean.shape(), "vamp_kl_term mean gradient", u, kU);
  require_optional(dlog_variance, log_variance.shape(), "vamp_kl_term log_variance gradient", u, kU);
  require_optional(dmeans, means.shape(), "vamp_kl_term means gradient", u, kU);
  require_optional(dcomponent_log_variance, component_log_variance.shape(),
                   "vamp_kl_term component_log_variance gradient", u, kU);
  require_optional(dmixture_logits, mixture_logits.shape(), "vamp_kl_term mixture_logits gradient", u, kU);
  if (!any_defined({&du, &dmean, &dlog_variance, &dmeans, &dcomponent_log_variance, &dmixture_logits})) return;
  if (u.device().is_cuda()) {
#if LATF_WITH_CUDA
    vamp_kl_term_backward_cuda(u, mean, log_variance, means, component_log_variance, mixture_logits, weights, dloss,
                               du, dmean, dlog_variance, dmeans, dcomponent_log_variance, dmixture_logits);
#else
    no_cuda_backend("vamp_kl_term_backward");
#endif
    return;
  }
  for (std::int64_t m = 0; m < f.models; ++m) {
    const auto at = [&](const Tensor& t) { return f.stacked ? model_slice(t, m) : t; };
    Tensor du_m = at(du), dmean_m = at(dmean), dlv_m = at(dlog_variance), dmeans_m = at(dmeans),
           dclv_m = at(dcomponent_log_variance), dlogits_m = at(dmixture_logits);
    dispatch_cpu_dtype(u, [&](auto zero) {
      vamp_kl_backward_cpu<decltype(zero)>(at(u), at(mean), at(log_variance), at(means), at(component_log_variance),
                                           at(mixture_logits), at(weights), at(dloss), du_m, dmean_m, dlv_m,
                                           dmeans_m, dclv_m, dlogits_m);
    });
  }
}

void tilted_nll_term_forward(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature, float tau,
                             const Tensor& weights, Tensor& loss) {
  const Form f = check_tilted_nll(z, log_det, inverse_temperature, weights);
  LATF_REQUIRE(!f.stacked, kZ, ": a stacked z ", z.shape().str(), " takes taus [M], not one float tau");
  checked_tau(tau);
  require_loss(loss, f, "tilted_nll_term output loss", z, kZ);
  if (z.device().is_cuda()) {
#if LATF_WITH_CUDA
    tilted_nll_term_forward_cuda(z, log_det, inverse_temperature, tau, Tensor(), weights, loss);
#else
    no_cuda_backend("tilted_nll_term_forward");
#endif
    return;
  }
  dispatch_cpu_dtype(z, [&](auto zero) {
    using T = decltype(zero);
    tilted_forward_cpu<T>(z, log_det, inverse_temperature, T(tau), weights, loss);
  });
}

void tilted_nll_term_backward(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature, float tau,
                              const Tensor& weights, const Tensor& dloss, Tensor& dz, Tensor& dlog_det) {
  const Form f = check_tilted_nll(z, log_det, inverse_temperature, weights);
  LATF_REQUIRE(!f.stacked, kZ, ": a stacked z ", z.shape().str(), " takes taus [M], not one float tau");
  checked_tau(tau);
  if (!check_tilted_gradients(f, z, log_det, dloss, dz, dlog_det)) return;
  if (z.device().is_cuda()) {
#if LATF_WITH_CUDA
    tilted_nll_term_backward_cuda(z, inverse_temperature, tau, Tensor(), weights, dloss, dz, dlog_det);
#else
    no_cuda_backend("tilted_nll_term_backward");
#endif
    return;
  }
  dispatch_cpu_dtype(z, [&](auto zero) {
    using T = decltype(zero);
    tilted_backward_cpu<T>(z, inverse_temperature, T(tau), weights, dloss, dz, dlog_det);
  });
}

void tilted_nll_term_forward(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature,
                             const Tensor& taus, const Tensor& weights, Tensor& loss) {
  const Form f = check_tilted_nll(z, log_det, inverse_temperature, weights);
  check_taus(taus, f, z);
  require_loss(loss, f, "tilted_nll_term output loss", z, kZ);
  if (z.device().is_cuda()) {
#if LATF_WITH_CUDA
    tilted_nll_term_forward_cuda(z, log_det, inverse_temperature, 0.f, taus, weights, loss);
#else
    no_cuda_backend("tilted_nll_term_forward");
#endif
    return;
  }
  const std::vector<float> tau = host_taus(taus);
  for (std::int64_t m = 0; m < f.models; ++m) {
    Tensor loss_m = model_slice(loss, m);
    tilted_nll_term_forward(model_slice(z, m), model_slice(log_det, m), model_slice(inverse_temperature, m), tau[m],
                            model_slice(weights, m), loss_m);
  }
}

void tilted_nll_term_backward(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature,
                              const Tensor& taus, const Tensor& weights, const Tensor& dloss, Tensor& dz,
                              Tensor& dlog_det) {
  const Form f = check_tilted_nll(z, log_det, inverse_temperature, weights);
  check_taus(taus, f, z);
  if (!check_tilted_gradients(f, z, log_det, dloss, dz, dlog_det)) return;
  if (z.device().is_cuda()) {
#if LATF_WITH_CUDA
    tilted_nll_term_backward_cuda(z, inverse_temperature, 0.f, taus, weights, dloss, dz, dlog_det);
#else
    no_cuda_backend("tilted_nll_term_backward");
#endif
    return;
  }
  const std::vector<float> tau = host_taus(taus);
  for (std::int64_t m = 0; m < f.models; ++m) {
    Tensor dz_m = model_slice(dz, m), dlog_det_m = model_slice(dlog_det, m);
    tilted_nll_term_backward(model_slice(z, m), model_slice(log_det, m), model_slice(inverse_temperature, m), tau[m],
                             model_slice(weights, m), model_slice(dloss, m), dz_m, dlog_det_m);
  }
}

}  // namespace latf::kernels
