#include "kernels/gaussian.hpp"

#include <climits>

#include "kernels/gaussian_math.hpp"
#include "kernels/vector_exp.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void reparameterize_forward_cuda(const Tensor& mean, const Tensor& log_variance, const Tensor& noise, Tensor& u);
void reparameterize_backward_cuda(const Tensor& log_variance, const Tensor& noise, const Tensor& du, Tensor& dmean,
                                  Tensor& dlog_variance);
void gaussian_log_density_forward_cuda(const Tensor& u, const Tensor& mean, const Tensor& log_variance, Tensor& out);
void gaussian_log_density_backward_cuda(const Tensor& u, const Tensor& mean, const Tensor& log_variance,
                                        const Tensor& dout, Tensor& du, Tensor& dmean, Tensor& dlog_variance);
void vamp_log_density_forward_cuda(const Tensor& u, const Tensor& means, const Tensor& log_variance,
                                   const Tensor& mixture_logits, Tensor& out);
void vamp_log_density_backward_cuda(const Tensor& u, const Tensor& means, const Tensor& log_variance,
                                    const Tensor& mixture_logits, const Tensor& dout, Tensor& du, Tensor& dmeans,
                                    Tensor& dlog_variance, Tensor& dmixture_logits);
#endif

namespace {

// ---------------------------------------------------------------- checks

void require_matrix(const Tensor& t, const char* operand, const char* layout) {
  require_defined(t, operand);
  LATF_REQUIRE(t.rank() == 2, operand, ": expected rank 2 ", layout, " (or rank 3 in the stacked form), got shape ",
               t.shape().str());
  LATF_REQUIRE(t.dim(1) <= INT_MAX, operand, ": width ", t.dim(1), " exceeds ", INT_MAX);
}

// log_variance is [1] (shared scalar) or exactly [rows, d]; returns whether it is shared.
bool require_log_variance(const Tensor& log_variance, std::int64_t rows, std::int64_t d, const char* operand,
                          const Tensor& reference, const char* reference_name) {
  require_defined(log_variance, operand);
  const Shape scalar{1}, per_element{rows, d};
  const bool shared = log_variance.shape() == scalar;
  LATF_REQUIRE(shared || log_variance.shape() == per_element, operand, ": expected shape [1] or ",
               per_element.str(), ", got ", log_variance.shape().str());
  require_same_device(reference, log_variance, reference_name, operand);
  return shared;
}

void require_optional(const Tensor& t, const Shape& shape, const char* operand, const Tensor& reference,
                      const char* reference_name) {
  if (!t.defined()) return;
  require_shape(t, shape, operand);
  require_same_device(reference, t, reference_name, operand);
}

void require_like(const Tensor& t, const Shape& shape, const char* operand, const Tensor& reference,
                  const char* reference_name) {
  require_shape(t, shape, operand);
  require_same_device(reference, t, reference_name, operand);
}

// Checks the operands shared by both directions of gaussian_log_density; returns whether the
// log-variance is the shared scalar.
bool check_gaussian(const Tensor& u, const Tensor& mean, const Tensor& log_variance) {
  require_matrix(u, "gaussian_log_density u", "[N, d]");
  require_like(mean, u.shape(), "gaussian_log_density mean", u, "gaussian_log_density u");
  return require_log_variance(log_variance, u.dim(0), u.dim(1), "gaussian_log_density log_variance", u,
                              "gaussian_log_density u");
}

void check_vamp(const Tensor& u, const Tensor& means, const Tensor& log_variance, const Tensor& mixture_logits) {
  require_matrix(u, "vamp_log_density u", "[N, d]");
  require_matrix(means, "vamp_log_density means", "[K, d]");
  LATF_REQUIRE(means.dim(0) >= 1, "vamp_log_density means: expected at least one component, got shape ",
               means.shape().str());
  LATF_REQUIRE(means.dim(1) == u.dim(1), "vamp_log_density means: expected width d = ", u.dim(1),
               " to match u of shape ", u.shape().str(), ", got shape ", means.shape().str());
  LATF_REQUIRE(means.numel() <= INT_MAX, "vamp_log_density means: ", means.numel(), " elements exceed ", INT_MAX);
  require_same_device(u, means, "vamp_log_density u", "vamp_log_density means");
  require_log_variance(log_variance, means.dim(0), means.dim(1), "vamp_log_density log_variance", u,
                       "vamp_log_density u");
  require_like(mixture_logits, {means.dim(0)}, "vamp_log_density mixture_logits", u, "vamp_log_density u");
}

// ---------------------------------------------------------------- CPU

// Strides of a log_variance operand over its partner's [rows, d] elements.
struct LogVarianceLayout {
  int row_stride;
  int step;
};

LogVarianceLayout layout_of(bool shared, std::int64_t d) {
  return shared ? LogVarianceLayout{0, 0} : LogVarianceLayout{static_cast<int>(d), 1};
}

template <class T>
void reparameterize_forward_cpu(const Tensor& mean, const Tensor& log_variance, bool shared, const Tensor& noise,
                                Tensor& u) {
  const std::int64_t n = mean.numel(), step = shared ? 0 : 1;
  const T* m = mean.data<T>();
  const T* lv = log_variance.data<T>();
  const T* e = noise.data<T>();
  T* out = u.data<T>();
  if (shared) {  // one exp per call instead of one per element; the loop then vectorises
    const T sd = standard_deviation_of(lv[0]);
    for (std::int64_t i = 0; i < n; ++i) out[i] = reparameterize_from_std(m[i], sd, e[i]);
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) out[i] = reparameterize_value(m[i], lv[i * step], e[i]);
}

template <class T>
void reparameterize_backward_cpu(const Tensor& log_variance, bool shared, const Tensor& noise, const Tensor& du,
                                 Tensor& dmean, Tensor& dlog_variance) {
  const std::int64_t n = noise.numel();
  const T* lv = log_variance.data<T>();
  const T* e = noise.data<T>();
  const T* g = du.data<T>();
  if (T* dm = data_or_null<T>(dmean))
    for (std::int64_t i = 0; i < n; ++i) dm[i] += g[i];
  T* dlv = data_or_null<T>(dlog_variance);
  if (!dlv) return;
  if (!shared) {
    for (std::int64_t i = 0; i < n; ++i) dlv[i] += reparameterize_dlog_variance(lv[i], e[i], g[i]);
    return;
  }
  double total = 0.0;  // a long sum: keep it in double even for float tensors
  const T sd = standard_deviation_of(lv[0]);
  for (std::int64_t i = 0; i < n; ++i) total += reparameterize_dlog_variance_from_std(sd, e[i], g[i]);
  dlv[0] += static_cast<T>(total);
}

template <class T>
void gaussian_forward_cpu(const Tensor& u, const Tensor& mean, const Tensor& log_variance, bool shared, Tensor& out) {
  const std::int64_t n = u.dim(0);
  const int d = static_cast<int>(u.dim(1));
  const LogVarianceLayout lay = layout_of(shared, d);
  const T* pu = u.data<T>();
  const T* pm = mean.data<T>();
  const T* lv = log_variance.data<T>();
  T* po = out.data<T>();
  if (shared) {  // 1/σ² once per call, not once per element
    const T inverse_variance = inverse_variance_of(lv[0]);
    for (std::int64_t i = 0; i < n; ++i) {
      T acc = T(0);
      for (int j = 0; j < d; ++j)
        acc += gaussian_log_term_scaled(pu[i * d + j], pm[i * d + j], lv[0], inverse_variance);
      po[i] = acc;
    }
    return;
  }
  for (std::int64_t i = 0; i < n; ++i)
    po[i] = gaussian_row_log_density(pu + i * d, pm + i * d, lv + i * lay.row_stride, lay.step, d);
}

template <class T>
void gaussian_backward_cpu(const Tensor& u, const Tensor& mean, const Tensor& log_variance, bool shared,
                           const Tensor& dout, Tensor& du, Tensor& dmean, Tensor& dlog_variance) {
  const std::int64_t n = u.dim(0);
  const int d = static_cast<int>(u.dim(1));
  const LogVarianceLayout lay = layout_of(shared, d);
  const T* pu = u.data<T>();
  const T* pm = mean.data<T>();
  const T* lv = log_variance.data<T>();
  const T* g = dout.data<T>();
  T* pdu = data_or_null<T>(du);
  T* pdm = data_or_null<T>(dmean);
  T* pdlv = data_or_null<T>(dlog_variance);
  const T shared_inverse_variance = shared ? inverse_variance_of(lv[0]) : T(0);
  double shared_total = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) {
      const std::int64_t e = i * d + j, l = i * lay.row_stride + j * lay.step;
      const GaussianTermGradient<T> t = shared ? gaussian_term_gradient_scaled(pu[e], pm[e], shared_inverse_variance)
                                               : gaussian_log_term_gradient(pu[e], pm[e], lv[l]);
      if (pdu) pdu[e] += g[i] * t.du;
      if (pdm) pdm[e] -= g[i] * t.du;
      if (pdlv && shared) shared_total += g[i] * t.dlog_variance;
      if (pdlv && !shared) pdlv[l] += g[i] * t.dlog_variance;
    }
  }
  if (pdlv && shared) pdlv[0] += static_cast<T>(shared_total);
}

// The VampPrior on the CPU. Everything that does not depend on u (1/σ², log π_k, π_k) is computed
// once per call into a pooled buffer. Rows are then processed kRowBlock at a time, transposed so
// that every inner loop runs over the rows of the block: the reductions over components (max,
// Σ exp, Σ_k into du) become lane-wise operations and the loops vectorise without reassociating
// any sum. Each row's component terms are evaluated once and reused for its log-sum-exp and, in
// backward, for its responsibilities γ_ik: K exp per row and pass (plus one log in forward), in
// float through the vectorisable exp_nonpositive.
constexpr int kRowBlock = 16;

template <class T>
struct HostVamp {
  Tensor storage;  // the constants [2·K·d + 2·K], then the block scratch below
  VampConstants<T> c;
  T* u;         // [d][kRowBlock] the block's rows, transposed
  T* terms;     // [K][kRowBlock] a_k, then exp(a_k − m), then dout·γ_k
  T* maximum;   // [kRowBlock] m
  T* sum;       // [kRowBlock] s = Σ_k exp(a_k − m)
  T* du;        // [d][kRowBlock] Σ_k dout·γ_k·∂a_k/∂u_j
};

template <class T>
HostVamp<T> prepare_host_vamp(const Tensor& means, const Tensor& log_variance, const Tensor& mixture_logits) {
  const int k_count = static_cast<int>(means.dim(0)), d = static_cast<int>(means.dim(1));
  const LogVarianceLayout lay = layout_of(log_variance.rank() == 1, d);
  const std::int64_t kd = std::int64_t(k_count) * d, scratch = (2 * std::int64_t(d) + k_count + 2) * kRowBlock;
  HostVamp<T> h;
  h.storage = Tensor::empty({2 * kd + 2 * std::int64_t(k_count) + scratch}, Device::cpu(), means.dtype());
  T* base = h.storage.template data<T>();
  h.c = VampConstants<T>{base, base + kd, base + 2 * kd, base + 2 * kd + k_count, k_count, d, d, 1};
  h.u = base + 2 * kd + 2 * k_count;
  h.terms = h.u + std::int64_t(d) * kRowBlock;
  h.maximum = h.terms + std::int64_t(k_count) * kRowBlock;
  h.sum = h.maximum + kRowBlock;
  h.du = h.sum + kRowBlock;
  const VampParameters<T> p{means.data<T>(), log_variance.data<T>(), mixture_logits.data<T>(), k_count, d,
                            lay.row_stride, lay.step};
  const T log_normalizer = log_sum_exp(p.logits, k_count);
  for (int k = 0; k < k_count; ++k) vamp_prepare_component(p, log_normalizer, k, h.c);
  return h;
}

// shifted_exp on the host: the float path uses the vectorisable exp_nonpositive (a − m ≤ 0); double
// (tests, gradient checks) keeps libm.
inline float host_shifted_exp(float a, float maximum) { return exp_nonpositive(a - maximum); }
inline double host_shifted_exp(double a, double maximum) { return shifted_exp(a, maximum); }

// Loads rows first … first + kRowBlock − 1 into h.u and fills h.terms with exp(a_k − m), h.maximum
// and h.sum. Rows past n repeat row n − 1 (a real row, so they compute nothing a real row would
// not); callers ignore them. The sum over j runs in the same order as vamp_component_term's, so
// the CUDA path computes the same a_k.
template <class T>
void host_block_terms(const T* pu, std::int64_t first, std::int64_t n, const HostVamp<T>& h) {
  const VampConstants<T>& c = h.c;
  const int d = c.d, k_count = c.k_count;
  for (int b = 0; b < kRowBlock; ++b) {
    const std::int64_t row = first + b < n ? first + b : n - 1;
    for (int j = 0; j < d; ++j) h.u[j * kRowBlock + b] = pu[row * d + j];
  }
  T* __restrict maximum = h.maximum;
  T* __restrict sum = h.sum;
  for (int k = 0; k < k_count; ++k) {
    // A local accumulator: through h.terms the compiler could not prove the lanes independent of
    // the constants it reads, and left this loop scalar.
    T acc[kRowBlock];
    LATF_LANE_LOOP
    for (int b = 0; b < kRowBlock; ++b) acc[b] = c.offset[k];
    for (int j = 0; j < d; ++j) {
      const T mean = c.means[c.at(k, j)], inverse_variance = c.inverse_variance[c.at(k, j)];
      const T* __restrict uj = h.u + j * kRowBlock;
      LATF_LANE_LOOP
      for (int b = 0; b < kRowBlock; ++b) acc[b] += gaussian_quadratic_term(uj[b], mean, inverse_variance);
    }
    T* __restrict terms = h.terms + std::int64_t(k) * kRowBlock;
    LATF_LANE_LOOP
    for (int b = 0; b < kRowBlock; ++b) terms[b] = acc[b];
  }
  LATF_LANE_LOOP
  for (int b = 0; b < kRowBlock; ++b) maximum[b] = h.terms[b];
  for (int k = 1; k < k_count; ++k) {
    const T* __restrict terms = h.terms + std::int64_t(k) * kRowBlock;
    LATF_LANE_LOOP
    for (int b = 0; b < kRowBlock; ++b) maximum[b] = terms[b] > maximum[b] ? terms[b] : maximum[b];
  }
  LATF_LANE_LOOP
  for (int b = 0; b < kRowBlock; ++b) sum[b] = T(0);
  for (int k = 0; k < k_count; ++k) {
    T* __restrict terms = h.terms + std::int64_t(k) * kRowBlock;
    LATF_LANE_LOOP
    for (int b = 0; b < kRowBlock; ++b) {
      terms[b] = host_shifted_exp(terms[b], maximum[b]);
      sum[b] += terms[b];
    }
  }
}

template <class T>
void vamp_forward_cpu(const Tensor& u, const Tensor& means, const Tensor& log_variance, const Tensor& mixture_logits,
                      Tensor& out) {
  const HostVamp<T> h = prepare_host_vamp<T>(means, log_variance, mixture_logits);
  const std::int64_t n = u.dim(0);
  const T* pu = u.data<T>();
  T* po = out.data<T>();
  for (std::int64_t first = 0; first < n; first += kRowBlock) {
    host_block_terms(pu, first, n, h);
    const int count = static_cast<int>(n - first < kRowBlock ? n - first : kRowBlock);
    for (int b = 0; b < count; ++b) po[first + b] = shifted_log_sum_exp(h.maximum[b], h.sum[b]);
  }
}

template <class T>
void vamp_backward_cpu(const Tensor& u, const Tensor& means, const Tensor& log_variance, const Tensor& mixture_logits,
                       const Tensor& dout, Tensor& du, Tensor& dmeans, Tensor& dlog_variance, Tensor& dmixture_logits) {
  const HostVamp<T> h = prepare_host_vamp<T>(means, log_variance, mixture_logits);
  const VampConstants<T>& c = h.c;
  const int k_count = c.k_count, d = c.d;
  const std::int64_t n = u.dim(0), kd = std::int64_t(k_count) * d;
  const T* pu = u.data<T>();
  const T* g = dout.data<T>();
  T* pdu = data_or_null<T>(du);
  // Sums over rows, one per block lane, kept in double even for float tensors and added to the
  // outputs once at the end: [K·d][lane] means and log-variances, [K][lane] Σ_i dout_i γ_ik,
  // [lane] Σ_i dout_i.
  Tensor sums = Tensor::zeros({(2 * kd + k_count + 1) * kRowBlock}, Device::cpu(), DType::Float64);
  double* const mean_sum = sums.data<double>();
  double* const lv_sum = mean_sum + kd * kRowBlock;
  double* const gamma_sum = lv_sum + kd * kRowBlock;
  double* __restrict dout_sum = gamma_sum + std::int64_t(k_count) * kRowBlock;
  T dout_over_sum[kRowBlock];
  for (std::int64_t first = 0; first < n; first += kRowBlock) {
    host_block_terms(pu, first, n, h);
    const int count = static_cast<int>(n - first < kRowBlock ? n - first : kRowBlock);
    LATF_LANE_LOOP
    for (int b = 0; b < kRowBlock; ++b) {
      const T dout_b = b < count ? g[first + b] : T(0);  // padding rows carry no gradient
      dout_over_sum[b] = dout_b / h.sum[b];
      dout_sum[b] += dout_b;
    }
    for (int e = 0; e < d * kRowBlock; ++e) h.du[e] = T(0);
    for (int k = 0; k < k_count; ++k) {
      // Lane values in local arrays, as in host_block_terms, so that every loop below vectorises.
      T gamma_dout[kRowBlock], du_term[kRowBlock], lv_term[kRowBlock];
      const T* __restrict terms = h.terms + std::int64_t(k) * kRowBlock;
      double* __restrict gamma_sum_k = gamma_sum + std::int64_t(k) * kRowBlock;
      LATF_LANE_LOOP
      for (int b = 0; b < kRowBlock; ++b) {
        gamma_dout[b] = terms[b] * dout_over_sum[b];
        gamma_sum_k[b] += gamma_dout[b];
      }
      for (int j = 0; j < d; ++j) {
        const T mean = c.means[c.at(k, j)], inverse_variance = c.inverse_variance[c.at(k, j)];
        const T* __restrict uj = h.u + j * kRowBlock;
        LATF_LANE_LOOP
        for (int b = 0; b < kRowBlock; ++b) {
          const GaussianTermGradient<T> t = gaussian_term_gradient_scaled(uj[b], mean, inverse_variance);
          du_term[b] = gamma_dout[b] * t.du;
          lv_term[b] = gamma_dout[b] * t.dlog_variance;
        }
        T* __restrict du_j = h.du + j * kRowBlock;
        double* __restrict mean_sum_kj = mean_sum + std::int64_t(c.at(k, j)) * kRowBlock;
        double* __restrict lv_sum_kj = lv_sum + std::int64_t(c.at(k, j)) * kRowBlock;
        LATF_LANE_LOOP
        for (int b = 0; b < kRowBlock; ++b) {
          du_j[b] += du_term[b];
          mean_sum_kj[b] -= du_term[b];
          lv_sum_kj[b] += lv_term[b];
        }
      }
    }
    if (pdu)
      for (int b = 0; b < count; ++b)
        for (int j = 0; j < d; ++j) pdu[(first + b) * d + j] += h.du[j * kRowBlock + b];
  }
  auto lanes = [](const double* v) {
    double total = 0.0;
    for (int b = 0; b < kRowBlock; ++b) total += v[b];
    return total;
  };
  if (T* p = data_or_null<T>(dmeans))
    for (std::int64_t e = 0; e < kd; ++e) p[e] += static_cast<T>(lanes(mean_sum + e * kRowBlock));
  if (T* p = data_or_null<T>(dlog_variance)) {
    if (log_variance.rank() == 1) {
      double total = 0.0;
      for (std::int64_t e = 0; e < kd; ++e) total += lanes(lv_sum + e * kRowBlock);
      p[0] += static_cast<T>(total);
    } else {
      for (std::int64_t e = 0; e < kd; ++e) p[e] += static_cast<T>(lanes(lv_sum + e * kRowBlock));
    }
  }
  const double dout_total = lanes(dout_sum);
  if (T* p = data_or_null<T>(dmixture_logits))
    for (int k = 0; k < k_count; ++k)
      p[k] += static_cast<T>(vamp_logit_gradient(lanes(gamma_sum + std::int64_t(k) * kRowBlock),
                                                 static_cast<double>(c.weight[k]), dout_total));
}

// ---------------------------------------------------------------- stacked form

// One model's slice of a stacked operand: the stacked shape without its leading dimension.
Shape model_slice_shape(const Shape& s) {
  if (s.rank() == 2) return {s[1]};
  if (s.rank() == 3) return {s[1], s[2]};
  return {s[1], s[2], s[3]};
}

// Model m's slice (an undefined tensor, a gradient not needed, stays undefined).
Tensor model_slice(const Tensor& t, std::int64_t m) {
  if (!t.defined()) return t;
  const Shape inner = model_slice_shape(t.shape());
  return t.view(m * inner.numel(), inner);
}

void require_stacked_rows(const Tensor& t, const char* operand, const char* layout) {
  require_defined(t, operand);
  LATF_REQUIRE(t.rank() == 3, operand, ": expected stacked shape ", layout, ", got shape ", t.shape().str());
  LATF_REQUIRE(t.dim(2) <= INT_MAX, operand, ": width ", t.dim(2), " exceeds ", INT_MAX);
  LATF_REQUIRE(t.dim(0) <= 65535, operand, ": ", t.dim(0), " models exceed the 65535 of one CUDA launch");
}

// Stacked log_variance: [M, 1] (one scalar per model) or [M, rows, d]; returns whether it is the
// per-model scalar.
bool require_stacked_log_variance(const Tensor& log_variance, std::int64_t models, std::int64_t rows, std::int64_t d,
                                  const char* operand, const Tensor& reference, const char* reference_name) {
  require_defined(log_variance, operand);
  const Shape scalar{models, 1}, per_element{models, rows, d};
  const bool shared = log_variance.shape() == scalar;
  LATF_REQUIRE(shared || log_variance.shape() == per_element, operand, ": expected stacked shape ", scalar.str(),
               " or ", per_element.str(), ", got ", log_variance.shape().str());
  require_same_device(reference, log_variance, reference_name, operand);
  return shared;
}

void check_stacked_gaussian(const Tensor& u, const Tensor& mean, const Tensor& log_variance) {
  require_stacked_rows(u, "gaussian_log_density u", "[M, N, d]");
  require_like(mean, u.shape(), "gaussian_log_density mean", u, "gaussian_log_density u");
  require_stacked_log_variance(log_variance, u.dim(0), u.dim(1), u.dim(2), "gaussian_log_density log_variance", u,
                               "gaussian_log_density u");
}

void check_stacked_vamp(const Tensor& u, const Tensor& means, const Tensor& log_variance,
                        const Tensor& mixture_logits) {
  require_stacked_rows(u, "vamp_log_density u", "[M, N, d]");
  const std::int64_t models = u.dim(0);
  require_defined(means, "vamp_log_density means");
  LATF_REQUIRE(means.rank() == 3 && means.dim(0) == models && means.dim(2) == u.dim(2),
               "vamp_log_density means: expected stacked shape [M, K, d] with M = ", models, " and d = ", u.dim(2),
               " of u ", u.shape().str(), ", got shape ", means.shape().str());
  LATF_REQUIRE(means.dim(1) >= 1, "vamp_log_density means: expected at least one component, got shape ",
               means.shape().str());
  LATF_REQUIRE(means.numel() / models <= INT_MAX, "vamp_log_density means: ", means.numel() / models,
               " elements per model exceed ", INT_MAX);
  require_same_device(u, means, "vamp_log_density u", "vamp_log_density means");
  require_stacked_log_variance(log_variance, models, means.dim(1), means.dim(2), "vamp_log_density log_variance", u,
                               "vamp_log_density u");
  require_like(mixture_logits, {models, means.dim(1)}, "vamp_log_density mixture_logits", u, "vamp_log_density u");
}

}  // namespace

// ---------------------------------------------------------------- public entry points

namespace {

// The per-model operand that tells the forms apart: rank 3 means stacked.
bool is_stacked(const Tensor& t) { return t.defined() && t.rank() == 3; }

// Checks the operands of reparameterize in either form; returns whether log_variance is the
// (per-model) scalar.
bool check_reparameterize(const Tensor& rows, const char* rows_name, const Tensor& log_variance) {
  if (is_stacked(rows)) {
    require_stacked_rows(rows, rows_name, "[M, N, d]");
    return require_stacked_log_variance(log_variance, rows.dim(0), rows.dim(1), rows.dim(2),
                                        "reparameterize log_variance", rows, rows_name);
  }
  require_matrix(rows, rows_name, "[N, d]");
  return require_log_variance(log_variance, rows.dim(0), rows.dim(1), "reparameterize log_variance", rows, rows_name);
}

// Shape of the per-row outputs: [N] or stacked [M, N].
Shape row_output_shape(const Tensor& u) { return is_stacked(u) ? Shape{u.dim(0), u.dim(1)} : Shape{u.dim(0)}; }

bool check_gaussian_either(const Tensor& u, const Tensor& mean, const Tensor& log_variance) {
  if (!is_stacked(u)) return check_gaussian(u, mean, log_variance);
  check_stacked_gaussian(u, mean, log_variance);
  return log_variance.rank() == 2;
}

void check_vamp_either(const Tensor& u, const Tensor& means, const Tensor& log_variance,
                       const Tensor& mixture_logits) {
  if (is_stacked(u)) {
    check_stacked_vamp(u, means, log_variance, mixture_logits);
  } else {
    check_vamp(u, means, log_variance, mixture_logits);
  }
}

}  // namespace

void reparameterize_forward(const Tensor& mean, const Tensor& log_variance, const Tensor& noise, Tensor& u) {
  const bool shared = check_reparameterize(mean, "reparameterize mean", log_variance);
  require_like(noise, mean.shape(), "reparameterize noise", mean, "reparameterize mean");
  require_like(u, mean.shape(), "reparameterize output u", mean, "reparameterize mean");
  if (mean.device().is_cuda()) {
#if LATF_WITH_CUDA
    reparameterize_forward_cuda(mean, log_variance, noise, u);
#else
    no_cuda_backend("reparameterize_forward");
#endif
    return;
  }
  if (is_stacked(mean)) {
    for (std::int64_t m = 0; m < mean.dim(0); ++m) {
      Tensor um = model_slice(u, m);
      reparameterize_forward(model_slice(mean, m), model_slice(log_variance, m), model_slice(noise, m), um);
    }
    return;
  }
  dispatch_cpu_dtype(mean, [&](auto zero) {
    reparameterize_forward_cpu<decltype(zero)>(mean, log_variance, shared, noise, u);
  });
}

void reparameterize_backward(const Tensor& log_variance, const Tensor& noise, const Tensor& du, Tensor& dmean,
                             Tensor& dlog_variance) {
  const bool shared = check_reparameterize(noise, "reparameterize noise", log_variance);
  require_like(du, noise.shape(), "reparameterize output gradient du", noise, "reparameterize noise");
  require_optional(dmean, noise.shape(), "reparameterize mean gradient", noise, "reparameterize noise");
  require_optional(dlog_variance, log_variance.shape(), "reparameterize log_variance gradient", noise,
                   "reparameterize noise");
  if (noise.device().is_cuda()) {
#if LATF_WITH_CUDA
    reparameterize_backward_cuda(log_variance, noise, du, dmean, dlog_variance);
#else
    no_cuda_backend("reparameterize_backward");
#endif
    return;
  }
  if (is_stacked(noise)) {
    for (std::int64_t m = 0; m < noise.dim(0); ++m) {
      Tensor dmean_m = model_slice(dmean, m), dlv_m = model_slice(dlog_variance, m);
      reparameterize_backward(model_slice(log_variance, m), model_slice(noise, m), model_slice(du, m), dmean_m,
                              dlv_m);
    }
    return;
  }
  dispatch_cpu_dtype(noise, [&](auto zero) {
    reparameterize_backward_cpu<decltype(zero)>(log_variance, shared, noise, du, dmean, dlog_variance);
  });
}

void gaussian_log_density_forward(const Tensor& u, const Tensor& mean, const Tensor& log_variance, Tensor& out) {
  const bool shared = check_gaussian_either(u, mean, log_variance);
  require_like(out, row_output_shape(u), "gaussian_log_density output", u, "gaussian_log_density u");
  if (u.device().is_cuda()) {
#if LATF_WITH_CUDA
    gaussian_log_density_forward_cuda(u, mean, log_variance, out);
#else
    no_cuda_backend("gaussian_log_density_forward");
#endif
    return;
  }
  if (is_stacked(u)) {
    for (std::int64_t m = 0; m < u.dim(0); ++m) {
      Tensor out_m = model_slice(out, m);
      gaussian_log_density_forward(model_slice(u, m), model_slice(mean, m), model_slice(log_variance, m), out_m);
    }
    return;
  }
  dispatch_cpu_dtype(u, [&](auto zero) {
    gaussian_forward_cpu<decltype(zero)>(u, mean, log_variance, shared, out);
  });
}

void gaussian_log_density_backward(const Tensor& u, const Tensor& mean, const Tensor& log_variance,
                                   const Tensor& dout, Tensor& du, Tensor& dmean, Tensor& dlog_variance) {
  const bool shared = check_gaussian_either(u, mean, log_variance);
  require_like(dout, row_output_shape(u), "gaussian_log_density output gradient", u, "gaussian_log_density u");
  require_optional(du, u.shape(), "gaussian_log_density u gradient", u, "gaussian_log_density u");
  require_optional(dmean, u.shape(), "gaussian_log_density mean gradient", u, "gaussian_log_density u");
  require_optional(dlog_variance, log_variance.shape(), "gaussian_log_density log_variance gradient", u,
                   "gaussian_log_density u");
  if (u.device().is_cuda()) {
#if LATF_WITH_CUDA
    gaussian_log_density_backward_cuda(u, mean, log_variance, dout, du, dmean, dlog_variance);
#else
    no_cuda_backend("gaussian_log_density_backward");
#endif
    return;
  }
  if (is_stacked(u)) {
    for (std::int64_t m = 0; m < u.dim(0); ++m) {
      Tensor du_m = model_slice(du, m), dmean_m = model_slice(dmean, m), dlv_m = model_slice(dlog_variance, m);
      gaussian_log_density_backward(model_slice(u, m), model_slice(mean, m), model_slice(log_variance, m),
                                    model_slice(dout, m), du_m, dmean_m, dlv_m);
    }
    return;
  }
  dispatch_cpu_dtype(u, [&](auto zero) {
    gaussian_backward_cpu<decltype(zero)>(u, mean, log_variance, shared, dout, du, dmean, dlog_variance);
  });
}

void vamp_log_density_forward(const Tensor& u, const Tensor& means, const Tensor& log_variance,
                              const Tensor& mixture_logits, Tensor& out) {
  check_vamp_either(u, means, log_variance, mixture_logits);
  require_like(out, row_output_shape(u), "vamp_log_density output", u, "vamp_log_density u");
  if (u.device().is_cuda()) {
#if LATF_WITH_CUDA
    vamp_log_density_forward_cuda(u, means, log_variance, mixture_logits, out);
#else
    no_cuda_backend("vamp_log_density_forward");
#endif
    return;
  }
  if (is_stacked(u)) {
    for (std::int64_t m = 0; m < u.dim(0); ++m) {
      Tensor out_m = model_slice(out, m);
      vamp_log_density_forward(model_slice(u, m), model_slice(means, m), model_slice(log_variance, m),
                               model_slice(mixture_logits, m), out_m);
    }
    return;
  }
  dispatch_cpu_dtype(u, [&](auto zero) {
    vamp_forward_cpu<decltype(zero)>(u, means, log_variance, mixture_logits, out);
  });
}

void vamp_log_density_backward(const Tensor& u, const Tensor& means, const Tensor& log_variance,
                               const Tensor& mixture_logits, const Tensor& dout, Tensor& du, Tensor& dmeans,
                               Tensor& dlog_variance, Tensor& dmixture_logits) {
  check_vamp_either(u, means, log_variance, mixture_logits);
  require_like(dout, row_output_shape(u), "vamp_log_density output gradient", u, "vamp_log_density u");
  require_optional(du, u.shape(), "vamp_log_density u gradient", u, "vamp_log_density u");
  require_optional(dmeans, means.shape(), "vamp_log_density means gradient", u, "vamp_log_density u");
  require_optional(dlog_variance, log_variance.shape(), "vamp_log_density log_variance gradient", u,
                   "vamp_log_density u");
  require_optional(dmixture_logits, mixture_logits.shape(), "vamp_log_density mixture_logits gradient", u,
                   "vamp_log_density u");
  if (!du.defined() && !dmeans.defined() && !dlog_variance.defined() && !dmixture_logits.defined()) return;
  if (u.device().is_cuda()) {
#if LATF_WITH_CUDA
    vamp_log_density_backward_cuda(u, means, log_variance, mixture_logits, dout, du, dmeans, dlog_variance,
                                   dmixture_logits);
#else
    no_cuda_backend("vamp_log_density_backward");
#endif
    return;
  }
  if (is_stacked(u)) {
    for (std::int64_t m = 0; m < u.dim(0); ++m) {
      Tensor du_m = model_slice(du, m), dmeans_m = model_slice(dmeans, m), dlv_m = model_slice(dlog_variance, m),
             dlogits_m = model_slice(dmixture_logits, m);
      vamp_log_density_backward(model_slice(u, m), model_slice(means, m), model_slice(log_variance, m),
                                model_slice(mixture_logits, m), model_slice(dout, m), du_m, dmeans_m, dlv_m,
                                dlogits_m);
    }
    return;
  }
  dispatch_cpu_dtype(u, [&](auto zero) {
    vamp_backward_cpu<decltype(zero)>(u, means, log_variance, mixture_logits, dout, du, dmeans, dlog_variance,
                                      dmixture_logits);
  });
}

}  // namespace latf::kernels
