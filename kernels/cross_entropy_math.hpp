#pragma once
// Row formulas of log-softmax and cross-entropy, shared by the CPU loop and the CUDA kernels
// (one row per thread there). Every formula works with shifted logits x_k − max, so logits of
// any magnitude give finite results: exp never overflows and the largest term is exp(0) = 1.
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

template <class T>
LATF_HD RowLogSumExp<T> row_log_sum_exp(const T* x, std::int64_t k) {
  T m = x[0];
  for (std::int64_t j = 1; j < k; ++j) m = x[j] > m ? x[j] : m;
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

// Σ_k −y_k log softmax(x)_k = Σ_k y_k (log_sum − (x_k − max)). Written on the shifted logits
// rather than as lse·Σy − Σ y x, which would cancel catastrophically for large logits.
template <class T>
LATF_HD T cross_entropy_row(const T* x, const T* y, std::int64_t k) {
  const RowLogSumExp<T> r = row_log_sum_exp(x, k);
  T loss = T(0);
  for (std::int64_t j = 0; j < k; ++j) loss += y[j] * (r.log_sum - (x[j] - r.max));
  return loss;
}

// dx_k += g · (softmax_k · Σ_j y_j − y_k), g = dloss · w / N for this row.
template <class T>
LATF_HD void cross_entropy_backward_row(const T* x, const T* y, T g, T* dx, std::int64_t k) {
  const RowLogSumExp<T> r = row_log_sum_exp(x, k);
  T mass = T(0);
  for (std::int64_t j = 0; j < k; ++j) mass += y[j];
  for (std::int64_t j = 0; j < k; ++j) dx[j] += g * (std::exp((x[j] - r.max) - r.log_sum) * mass - y[j]);
}

}  // namespace latf::kernels
