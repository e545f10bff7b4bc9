#pragma once
// Formulas of the Gaussian family (METHOD.md §3), shared by the CPU loops and the CUDA kernels.
// Every log-density leaves out the −(d/2)·log 2π constant: the KL term subtracts two densities of
// the same dimension, so it cancels.
//
// log_variance comes in two layouts, described by two strides: a single scalar shared by every
// element (row stride 0, element step 0) or one value per element of its [rows, d] partner
// (row stride d, element step 1).
#include <math.h>

#include <cstdint>

#include "engine/hd.hpp"

namespace latf::kernels {

// expf / exp by type: unqualified std::exp is host-only in some CUDA/libstdc++ pairings.
LATF_HD float exp_of(float x) { return expf(x); }
LATF_HD double exp_of(double x) { return ::exp(x); }
LATF_HD float log_of(float x) { return logf(x); }
LATF_HD double log_of(double x) { return ::log(x); }

// σ = exp(½ log σ²). With a shared log-variance the CPU evaluates it once per call and uses the
// *_from_std forms below.
template <class T>
LATF_HD T standard_deviation_of(T log_variance) {
  return exp_of(T(0.5) * log_variance);
}

// u = μ + σ·ε.
template <class T>
LATF_HD T reparameterize_from_std(T mean, T standard_deviation, T noise) {
  return mean + standard_deviation * noise;
}
template <class T>
LATF_HD T reparameterize_value(T mean, T log_variance, T noise) {
  return reparameterize_from_std(mean, standard_deviation_of(log_variance), noise);
}

// ∂u/∂(log σ²) · du = ½ σ ε du; ∂u/∂μ is 1 and the noise is a constant.
template <class T>
LATF_HD T reparameterize_dlog_variance_from_std(T standard_deviation, T noise, T du) {
  return T(0.5) * standard_deviation * noise * du;
}
template <class T>
LATF_HD T reparameterize_dlog_variance(T log_variance, T noise, T du) {
  return reparameterize_dlog_variance_from_std(standard_deviation_of(log_variance), noise, du);
}

// 1/σ² = exp(−log σ²). The VampPrior computes it once per call for each of its K·d parameters
// instead of once per row and component.
template <class T>
LATF_HD T inverse_variance_of(T log_variance) {
  return exp_of(-log_variance);
}

// −½ (u − μ)²/σ²: the part of a Gaussian term that depends on u.
template <class T>
LATF_HD T gaussian_quadratic_term(T u, T mean, T inverse_variance) {
  const T diff = u - mean;
  return T(-0.5) * (diff * diff * inverse_variance);
}

// One element's share of a diagonal-Gaussian log-density: −½ (log σ² + (u − μ)²/σ²), given 1/σ²
// already evaluated (once per call when the log-variance is shared).
template <class T>
LATF_HD T gaussian_log_term_scaled(T u, T mean, T log_variance, T inverse_variance) {
  return T(-0.5) * log_variance + gaussian_quadratic_term(u, mean, inverse_variance);
}
template <class T>
LATF_HD T gaussian_log_term(T u, T mean, T log_variance) {
  return gaussian_log_term_scaled(u, mean, log_variance, inverse_variance_of(log_variance));
}

// Partial derivatives of gaussian_log_term; ∂/∂μ = −∂/∂u.
template <class T>
struct GaussianTermGradient {
  T du;
  T dlog_variance;
};

// Gradient of gaussian_log_term given 1/σ² already evaluated.
template <class T>
LATF_HD GaussianTermGradient<T> gaussian_term_gradient_scaled(T u, T mean, T inverse_variance) {
  const T diff = u - mean;
  const T scaled = diff * inverse_variance;
  return {-scaled, T(0.5) * (diff * scaled - T(1))};
}

template <class T>
LATF_HD GaussianTermGradient<T> gaussian_log_term_gradient(T u, T mean, T log_variance) {
  return gaussian_term_gradient_scaled(u, mean, inverse_variance_of(log_variance));
}

// Σ_j gaussian_log_term over one row of width d; log_variance advances by lv_step per element.
template <class T>
LATF_HD T gaussian_row_log_density(const T* u, const T* mean, const T* log_variance, int lv_step, int d) {
  T acc = T(0);
  for (int j = 0; j < d; ++j) acc += gaussian_log_term(u[j], mean[j], log_variance[j * lv_step]);
  return acc;
}

// Streaming log-sum-exp: keeps the running maximum and the sum of exp(a − maximum), so no term
// ever overflows or underflows to an all-zero sum, whatever the spread of the terms.
template <class T>
struct LogSumExp {
  T maximum;
  T sum;
  LATF_HD explicit LogSumExp(T first) : maximum(first), sum(T(1)) {}
  LATF_HD void add(T a) {
    if (a > maximum) {
      sum = sum * exp_of(maximum - a) + T(1);
      maximum = a;
    } else {
      sum += exp_of(a - maximum);
    }
  }
  LATF_HD T value() const { return maximum + log_of(sum); }
};

// log Σ_k exp(logits_k): the normaliser of the mixture weights π = softmax(logits).
template <class T>
LATF_HD T log_sum_exp(const T* logits, int k_count) {
  LogSumExp<T> lse(logits[0]);
  for (int k = 1; k < k_count; ++k) lse.add(logits[k]);
  return lse.value();
}

// The VampPrior's parameters as the caller passes them: component k has mean means[k·d + j] and
// log-variance log_variance[k·lv_row_stride + j·lv_step].
template <class T>
struct VampParameters {
  const T* means;
  const T* log_variance;
  const T* logits;
  int k_count;
  int d;
  int lv_row_stride;
  int lv_step;
};

// Everything about the mixture that does not depend on u, computed once per call (not per row):
// element (k, j) of means / inverse_variance sits at k·k_stride + j·j_stride (the CPU stores
// them [d, K] so its loops over k are contiguous, the CUDA kernels [K, d]); offset_k =
// log π_k − ½ Σ_j log σ²_kj and weight_k = π_k = softmax(logits)_k.
template <class T>
struct VampConstants {
  T* means;
  T* inverse_variance;
  T* offset;
  T* weight;
  int k_count;
  int d;
  int k_stride;
  int j_stride;
  LATF_HD int at(int k, int j) const { return k * k_stride + j * j_stride; }
};

// Fills component k's constants; log_normalizer = log_sum_exp(logits, k_count).
template <class T>
LATF_HD void vamp_prepare_component(const VampParameters<T>& p, T log_normalizer, int k, const VampConstants<T>& c) {
  const T log_weight = p.logits[k] - log_normalizer;
  T log_variance_sum = T(0);
  for (int j = 0; j < p.d; ++j) {
    const T lv = p.log_variance[std::int64_t(k) * p.lv_row_stride + j * p.lv_step];
    log_variance_sum += lv;
    c.means[c.at(k, j)] = p.means[std::int64_t(k) * p.d + j];
    c.inverse_variance[c.at(k, j)] = inverse_variance_of(lv);
  }
  c.offset[k] = log_weight + T(-0.5) * log_variance_sum;
  c.weight[k] = exp_of(log_weight);
}

// a_k = log π_k + log N(u; μ_k, σ²_k), the k-th term of the mixture's log-sum-exp; no exp/log.
template <class T>
LATF_HD T vamp_component_term(const T* u, const VampConstants<T>& c, int k) {
  T acc = c.offset[k];
  for (int j = 0; j < c.d; ++j) acc += gaussian_quadratic_term(u[j], c.means[c.at(k, j)], c.inverse_variance[c.at(k, j)]);
  return acc;
}

// A max-shifted log-sum-exp: with m = max_k a_k and s = Σ_k exp(a_k − m) ≥ 1, log Σ_k exp(a_k) =
// m + log s and the responsibilities are γ_k = exp(a_k − m)/s. No term overflows, and s never
// vanishes however far apart the terms are.
template <class T>
LATF_HD T shifted_exp(T a, T maximum) {
  return exp_of(a - maximum);
}
template <class T>
LATF_HD T shifted_log_sum_exp(T maximum, T shifted_sum) {
  return maximum + log_of(shifted_sum);
}

// ∂log r/∂logits_k summed over rows: Σ_i dout_i γ_ik − π_k Σ_i dout_i. A single row passes its own
// dout_i γ_ik and dout_i.
template <class T>
LATF_HD T vamp_logit_gradient(T weighted_responsibility, T weight, T dout) {
  return weighted_responsibility - weight * dout;
}

// One row of the VampPrior when the caller cannot keep K terms per row (a CUDA thread): two
// passes over the component terms, which cost no transcendental now. Returns m and s.
template <class T>
struct ShiftedSum {
  T maximum;
  T sum;
};

template <class T>
LATF_HD ShiftedSum<T> vamp_row_shifted_sum(const T* u, const VampConstants<T>& c) {
  T maximum = vamp_component_term(u, c, 0);
  for (int k = 1; k < c.k_count; ++k) {
    const T a = vamp_component_term(u, c, k);
    if (a > maximum) maximum = a;
  }
  T sum = T(0);
  for (int k = 0; k < c.k_count; ++k) sum += shifted_exp(vamp_component_term(u, c, k), maximum);
  return {maximum, sum};
}

// log r(u) = log Σ_k π_k N(u; μ_k, σ²_k).
template <class T>
LATF_HD T vamp_row_log_density(const T* u, const VampConstants<T>& c) {
  const ShiftedSum<T> s = vamp_row_shifted_sum(u, c);
  return shifted_log_sum_exp(s.maximum, s.sum);
}

// Backward of one row with upstream gradient dout: ∂log r/∂(component k's log-density) = γ_k.
// du_row (may be null) belongs to this row alone and gets +=; gradients shared by all rows go
// through sink.mean(k·d + j, v), sink.log_variance(k·lv_row_stride + j·lv_step, v) and
// sink.logit(k, v), which the caller makes plain or atomic adds.
template <class T, class Sink>
LATF_HD void vamp_row_backward(const T* u, const VampConstants<T>& c, int lv_row_stride, int lv_step, T dout,
                               T* du_row, Sink& sink) {
  const ShiftedSum<T> s = vamp_row_shifted_sum(u, c);
  const T dout_over_sum = dout / s.sum;
  for (int k = 0; k < c.k_count; ++k) {
    const T gamma_dout = dout_over_sum * shifted_exp(vamp_component_term(u, c, k), s.maximum);
    sink.logit(k, vamp_logit_gradient(gamma_dout, c.weight[k], dout));
    for (int j = 0; j < c.d; ++j) {
      const GaussianTermGradient<T> g =
          gaussian_term_gradient_scaled(u[j], c.means[c.at(k, j)], c.inverse_variance[c.at(k, j)]);
      if (du_row) du_row[j] += gamma_dout * g.du;
      sink.mean(k * c.d + j, -gamma_dout * g.du);
      sink.log_variance(k * lv_row_stride + j * lv_step, gamma_dout * g.dlog_variance);
    }
  }
}

}  // namespace latf::kernels
