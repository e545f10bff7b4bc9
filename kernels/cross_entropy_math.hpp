#pragma once
// Row formulas of log-softmax and cross-entropy, shared by the CPU loop and the CUDA kernels
// (one row per thread there). The CPU's cross-entropy runs the same element formulas
// (running_max, cross_entropy_term, cross_entropy_gradient) over blocks of rows. Every formula
// works with shifted logits x_k − max, so logits of any magnitude give finite results: exp never
// overflows and the largest term is exp(0) = 1.
#include <cmath>
#include <cstdint>

#include "engine/hd.hpp"

namespace latf::kernels {

// log Σ_k exp(x_k) = max + log_sum, with log_sum = log Σ_k exp(x_k − max) ∈ [0, log K].
template <class T>
struct RowLogSumExp {
  T max;
  T log_sum;
};

// The running maximum's step; a NaN logit that comes first stays the maximum, and any NaN
// reaches the loss through x − max.
template <class T>
LATF_HD T running_max(T x, T max) {
  return x > max ? x : max;
}

template <class T>
LATF_HD T row_max(const T* x, std::int64_t k) {
  T m = x[0];
  for (std::int64_t j = 1; j < k; ++j) m = running_max(x[j], m);
  return m;
}

template <class T>
LATF_HD RowLogSumExp<T> row_log_sum_exp(const T* x, std::int64_t k) {
  const T m = row_max(x, k);
  T sum = T(0);
  for (std::int64_t j = 0; j < k; ++j) sum += std::exp(x[j] - m);
  return {m, std::log(sum)};
}

// out_k = (x_k − max) − log_sum.
template <class T>
LATF_HD void log_softmax_row(const T* x, T* out, std::int64_t k) {
  const RowLogSumExp<T> r = row_log_sum_exp(x, k);
  for (std::int64_t j = 0; j < k; ++j) out[j] = (x[j] - r.max) - r.log_sum;
}

// From the saved output: dx_k += dout_k − softmax_k · Σ_j dout_j, softmax_k = exp(out_k).
template <class T>
LATF_HD void log_softmax_backward_row(const T* out, const T* dout, T* dx, std::int64_t k) {
  T total = T(0);
  for (std::int64_t j = 0; j < k; ++j) total += dout[j];
  for (std::int64_t j = 0; j < k; ++j) dx[j] += dout[j] - std::exp(out[j]) * total;
}

// Row k's share of Σ_k −y_k log softmax(x)_k = Σ_k y_k (log_sum − (x_k − max)). Written on the
// shifted logits rather than as lse·Σy − Σ y x, which would cancel catastrophically for large
// logits.
template <class T>
LATF_HD T cross_entropy_term(T x, T y, T max, T log_sum) {
  return y * (log_sum - (x - max));
}

template <class T>
LATF_HD T cross_entropy_row(const T* x, const T* y, std::int64_t k) {
  const RowLogSumExp<T> r = row_log_sum_exp(x, k);
  T loss = T(0);
  for (std::int64_t j = 0; j < k; ++j) loss += cross_entropy_term(x[j], y[j], r.max, r.log_sum);
  return loss;
}

// Element k's gradient g · (softmax_k · Σ_j y_j − y_k), g = dloss · w / N for this row, from
// shifted_exp = exp(x_k − max) and sum = Σ_j exp(x_j − max) ≥ 1: softmax_k = shifted_exp / sum
// needs no log.
template <class T>
LATF_HD T cross_entropy_gradient(T shifted_exp, T sum, T y, T mass, T g) {
  return g * ((shifted_exp / sum) * mass - y);
}

template <class T>
LATF_HD void cross_entropy_backward_row(const T* x, const T* y, T g, T* dx, std::int64_t k) {
  const T m = row_max(x, k);
  T sum = T(0), mass = T(0);
  for (std::int64_t j = 0; j < k; ++j) {
    sum += std::exp(x[j] - m);
    mass += y[j];
  }
  for (std::int64_t j = 0; j < k; ++j) dx[j] += cross_entropy_gradient(T(std::exp(x[j] - m)), sum, y[j], mass, g);
}

}  // namespace latf::kernels
