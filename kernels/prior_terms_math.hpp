#pragma once
// Per-row terms of the loss's two prior terms (METHOD.md §3, §6), built from the density formulas
// of gaussian_math.hpp and tilted_math.hpp and shared by the CPU loops and the CUDA kernels of
// kernels/prior_terms.*:
//   SPIB phase:  t_i = log q(u_i | x_i) − log r_vamp(u_i)
//   joint phase: t_i = −log r_tilted(z_i) − log|det|_i   (log_det absent: 0)
// The term of a model is then (1/N) Σ_i w_i t_i. A backward row receives g_i = dloss·w_i/N.
#include <cstdint>

#include "kernels/gaussian_math.hpp"
#include "kernels/tilted_math.hpp"

namespace latf::kernels::prior_terms {

// One model's operands of the SPIB-phase term (pointers already at that model). The encoder's
// log-variance is a shared scalar (row stride 0, step 0) or one per element of u (d, 1); the
// mixture is described by its per-call constants, and its log-variance layout by the two strides
// vamp_row_backward needs to name gradient entries.
template <class T>
struct VampKlRows {
  const T* u;
  const T* mean;
  const T* log_variance;
  int lv_row_stride;
  int lv_step;
  VampConstants<T> prior;
  int prior_lv_row_stride;
  int prior_lv_step;
  int d;
};

template <class T>
LATF_HD T vamp_kl_row(const VampKlRows<T>& p, std::int64_t i) {
  const T* u = p.u + i * p.d;
  return gaussian_row_log_density(u, p.mean + i * p.d, p.log_variance + i * p.lv_row_stride, p.lv_step, p.d) -
         vamp_row_log_density(u, p.prior);
}

// Backward of g·vamp_kl_row(i). du_row and dmean_row (null = not needed) belong to row i alone;
// the encoder's log-variance gradient goes through sink.encoder_log_variance(index, v) (index into
// that operand), the mixture's gradients through vamp_row_backward's sink.mean / log_variance /
// logit, with upstream −g.
template <class T, class Sink>
LATF_HD void vamp_kl_row_backward(const VampKlRows<T>& p, std::int64_t i, T g, T* du_row, T* dmean_row, Sink& sink) {
  const T* u = p.u + i * p.d;
  const T* mean = p.mean + i * p.d;
  const std::int64_t lv_row = i * p.lv_row_stride;
  for (int j = 0; j < p.d; ++j) {
    const std::int64_t l = lv_row + std::int64_t(j) * p.lv_step;
    const GaussianTermGradient<T> t = gaussian_log_term_gradient(u[j], mean[j], p.log_variance[l]);
    if (du_row) du_row[j] += g * t.du;
    if (dmean_row) dmean_row[j] -= g * t.du;
    sink.encoder_log_variance(l, g * t.dlog_variance);
  }
  vamp_row_backward(u, p.prior, p.prior_lv_row_stride, p.prior_lv_step, -g, du_row, sink);
}

// One model's operands of the joint-phase term; log_det may be null (an identity flow).
template <class T>
struct TiltedNllRows {
  const T* z;
  const T* inverse_temperature;
  const T* log_det;
  T tau;
  int d;
};

template <class T>
LATF_HD T tilted_nll_row(const TiltedNllRows<T>& p, std::int64_t i) {
  const T log_r = tilted::log_density(p.z + i * p.d, p.d, p.tau, p.inverse_temperature[i], T(0));
  return p.log_det ? -log_r - p.log_det[i] : -log_r;
}

// Backward of g·tilted_nll_row(i): dz_row belongs to row i, dlog_det is the model's [N] gradient
// (either may be null).
template <class T>
LATF_HD void tilted_nll_row_backward(const TiltedNllRows<T>& p, std::int64_t i, T g, T* dz_row, T* dlog_det) {
  if (dz_row) tilted::log_density_backward(p.z + i * p.d, p.d, p.tau, p.inverse_temperature[i], -g, dz_row);
  if (dlog_det) dlog_det[i] -= g;
}

// w_i, or 1 when the term is unweighted.
template <class T>
LATF_HD T row_weight(const T* weights, std::int64_t i) {
  return weights ? weights[i] : T(1);
}

// g_i = (dloss/N)·w_i, the upstream gradient of row i's term.
template <class T>
LATF_HD T row_gradient(T dloss_over_n, const T* weights, std::int64_t i) {
  return weights ? dloss_over_n * weights[i] : dloss_over_n;
}

}  // namespace latf::kernels::prior_terms
