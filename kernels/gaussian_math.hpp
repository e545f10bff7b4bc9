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

// u = μ + σ·ε with σ = exp(½ log σ²).
template <class T>
LATF_HD T reparameterize_value(T mean, T log_variance, T noise) {
  return mean + exp_of(T(0.5) * log_variance) * noise;
}

// ∂u/∂(log σ²) · du; ∂u/∂μ is 1 and the noise is a constant.
template <class T>
LATF_HD T reparameterize_dlog_variance(T log_variance, T noise, T du) {
  return T(0.5) * exp_of(T(0.5) * log_variance) * noise * du;
}

// One element's share of a diagonal-Gaussian log-density: −½ (log σ² + (u − μ)²/σ²).
template <class T>
LATF_HD T gaussian_log_term(T u, T mean, T log_variance) {
  const T diff = u - mean;
  return T(-0.5) * (log_variance + diff * diff * exp_of(-log_variance));
}

// Partial derivatives of gaussian_log_term; ∂/∂μ = −∂/∂u.
template <class T>
struct GaussianTermGradient {
  T du;
  T dlog_variance;
};

template <class T>
LATF_HD GaussianTermGradient<T> gaussian_log_term_gradient(T u, T mean, T log_variance) {
  const T diff = u - mean;
  const T scaled = diff * exp_of(-log_variance);
  return {-scaled, T(0.5) * (diff * scaled - T(1))};
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

// The VampPrior's parameters as seen by one row: component k has mean means[k·d …] and
// log-variance log_variance[k·lv_row_stride + j·lv_step].
template <class T>
struct VampComponents {
  const T* means;
  const T* log_variance;
  const T* logits;
  int k_count;
  int d;
  int lv_row_stride;
  int lv_step;
  T log_normalizer;  // log_sum_exp(logits, k_count)
};

// a_k = log π_k + log N(u; μ_k, σ²_k), the k-th term of the mixture's log-sum-exp.
template <class T>
LATF_HD T vamp_component_term(const T* u, const VampComponents<T>& c, int k) {
  return c.logits[k] - c.log_normalizer +
         gaussian_row_log_density(u, c.means + std::int64_t(k) * c.d, c.log_variance + std::int64_t(k) * c.lv_row_stride,
                                  c.lv_step, c.d);
}

// log r(u) = log Σ_k π_k N(u; μ_k, σ²_k).
template <class T>
LATF_HD T vamp_row_log_density(const T* u, const VampComponents<T>& c) {
  LogSumExp<T> lse(vamp_component_term(u, c, 0));
  for (int k = 1; k < c.k_count; ++k) lse.add(vamp_component_term(u, c, k));
  return lse.value();
}

// Backward of one row, given its forward value log_r and upstream gradient dout. With the
// responsibilities γ_k = exp(a_k − log_r): ∂log_r/∂(component k's log-density) = γ_k and
// ∂log_r/∂logits_k = γ_k − π_k. du_row (may be null) belongs to this row alone and gets +=;
// gradients shared by all rows go through sink.mean(k·d + j, v), sink.log_variance(index, v)
// and sink.logit(k, v), which the caller makes plain or atomic adds.
template <class T, class Sink>
LATF_HD void vamp_row_backward(const T* u, const VampComponents<T>& c, T log_r, T dout, T* du_row, Sink& sink) {
  for (int k = 0; k < c.k_count; ++k) {
    const T weight = dout * exp_of(vamp_component_term(u, c, k) - log_r);
    sink.logit(k, weight - dout * exp_of(c.logits[k] - c.log_normalizer));
    const T* mean = c.means + std::int64_t(k) * c.d;
    const int lv_base = k * c.lv_row_stride;
    for (int j = 0; j < c.d; ++j) {
      const GaussianTermGradient<T> g = gaussian_log_term_gradient(u[j], mean[j], c.log_variance[lv_base + j * c.lv_step]);
      if (du_row) du_row[j] += weight * g.du;
      sink.mean(k * c.d + j, -weight * g.du);
      sink.log_variance(lv_base + j * c.lv_step, weight * g.dlog_variance);
    }
  }
}

}  // namespace latf::kernels
