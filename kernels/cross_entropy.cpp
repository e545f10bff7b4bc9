#include "kernels/cross_entropy.hpp"

#include "kernels/cross_entropy_math.hpp"
#include "kernels/vector_exp.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void log_softmax_forward_cuda(const float* logits, float* out, std::int64_t n, std::int64_t k, int device);
void log_softmax_backward_cuda(const float* out, const float* dout, float* dlogits, std::int64_t n,
                               std::int64_t k, int device);
// models ≥ 1 models of n rows each (1 in the single form); loss and dloss hold one value per model.
void weighted_cross_entropy_forward_cuda(const float* logits, const float* targets, const float* weights,
                                         float* loss, std::int64_t models, std::int64_t n, std::int64_t k,
                                         int device);
void weighted_cross_entropy_backward_cuda(const float* logits, const float* targets, const float* weights,
                                          const float* dloss, float* dlogits, std::int64_t models, std::int64_t n,
                                          std::int64_t k, int device);
#endif

namespace {

// Rank 3 is the stacked form [M, N, K].
bool is_stacked(const Tensor& logits) { return logits.rank() == 3; }

void check_logits(const Tensor& logits, const char* name) {
  require_defined(logits, name);
  LATF_REQUIRE(logits.rank() == 2 || logits.rank() == 3, name,
               ": expected rank 2 [N, K] (or rank 3 [M, N, K] in the stacked form), got shape ",
               logits.shape().str());
  LATF_REQUIRE(logits.dim(logits.rank() - 1) >= 1, name, ": expected at least one class (K ≥ 1), got shape ",
               logits.shape().str());
}

// Models of either form: M stacked, 1 single.
std::int64_t models_of(const Tensor& logits) { return is_stacked(logits) ? logits.dim(0) : 1; }

// [M·N, K] of either form: log-softmax rows are independent, so the stacked form is just more rows.
Tensor as_rows(const Tensor& t) {
  return is_stacked(t) ? t.reshape({t.dim(0) * t.dim(1), t.dim(2)}) : t;
}

// One value per model: [1] single, [M] stacked.
Shape loss_shape(const Tensor& logits) { return {models_of(logits)}; }

void check_cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& weights) {
  check_logits(logits, "weighted_cross_entropy logits");
  const bool stacked = is_stacked(logits);
  const std::int64_t rows = logits.dim(stacked ? 1 : 0);
  LATF_REQUIRE(rows >= 1, "weighted_cross_entropy logits: expected at least one row", stacked ? " per model" : "",
               ", got shape ", logits.shape().str(), " (empty batch)");
  LATF_REQUIRE(!stacked || logits.dim(0) <= 65535, "weighted_cross_entropy logits: ", logits.dim(0),
               " models exceed the 65535 of one CUDA launch");
  require_shape(targets, logits.shape(), "weighted_cross_entropy targets");
  require_same_device(logits, targets, "weighted_cross_entropy logits", "weighted_cross_entropy targets");
  if (weights.defined()) {
    require_shape(weights, stacked ? Shape{logits.dim(0), rows} : Shape{rows}, "weighted_cross_entropy weights");
    require_same_device(logits, weights, "weighted_cross_entropy logits", "weighted_cross_entropy weights");
  }
}

// Model m's slice of a stacked operand (undefined stays undefined).
Tensor model_slice(const Tensor& t, std::int64_t m) {
  if (!t.defined()) return t;
  const Shape inner = t.rank() == 3 ? Shape{t.dim(1), t.dim(2)} : Shape{t.dim(1)};
  return t.view(m * inner.numel(), inner);
}

template <class T>
void log_softmax_forward_cpu(const Tensor& logits, Tensor& out) {
  const std::int64_t n = logits.dim(0), k = logits.dim(1);
  const T* x = logits.data<T>();
  T* y = out.data<T>();
  for (std::int64_t i = 0; i < n; ++i) log_softmax_row(x + i * k, y + i * k, k);
}

template <class T>
void log_softmax_backward_cpu(const Tensor& out, const Tensor& dout, Tensor& dlogits) {
  const std::int64_t n = out.dim(0), k = out.dim(1);
  const T* y = out.data<T>();
  const T* dy = dout.data<T>();
  T* dx = dlogits.data<T>();
  for (std::int64_t i = 0; i < n; ++i) log_softmax_backward_row(y + i * k, dy + i * k, dx + i * k, k);
}

// The cross-entropy on the CPU runs kRowBlock rows at a time, transposed to [K][kRowBlock] so
// that every loop over the classes is lane-wise over rows: K is small (the number of states)
// and would leave a per-row loop mostly unvectorised. In float, exp and log are the vectorisable
// exp_nonpositive / log_positive (x − max ≤ 0, Σ exp ≥ 1); double (tests, gradient checks)
// keeps libm.
constexpr int kRowBlock = 16;

inline float host_shifted_exp(float x, float max) { return exp_nonpositive(x - max); }
inline double host_shifted_exp(double x, double max) { return std::exp(x - max); }
inline float host_log(float x) { return log_positive(x); }
inline double host_log(double x) { return std::log(x); }

template <class T>
struct CrossEntropyBlock {
  Tensor storage;
  T* x;     // [K][kRowBlock] logits, then exp(x − max) in backward
  T* y;     // [K][kRowBlock] targets
  T* max;   // [kRowBlock]
  T* sum;   // [kRowBlock] Σ_k exp(x_k − max)
  T* mass;  // [kRowBlock] Σ_k y_k

  CrossEntropyBlock(std::int64_t k, DType dtype)  // pooled: no allocation per step
      : storage(Tensor::empty({(2 * k + 3) * kRowBlock}, Device::cpu(), dtype)) {
    x = storage.data<T>();
    y = x + k * kRowBlock;
    max = y + k * kRowBlock;
    sum = max + kRowBlock;
    mass = sum + kRowBlock;
  }

  // Loads rows first … first + kRowBlock − 1 (past n: row n − 1 again, ignored by the callers)
  // and fills max and sum; the logits are replaced by exp(x − max) when keep_exp.
  void load(const T* px, const T* py, std::int64_t first, std::int64_t n, std::int64_t k, bool keep_exp) {
    // Lane-inner, so that the compiler can load each class column of the block with one gather.
    std::int64_t offset[kRowBlock];
    for (int b = 0; b < kRowBlock; ++b) offset[b] = (first + b < n ? first + b : n - 1) * k;
    for (std::int64_t j = 0; j < k; ++j) {
      T* __restrict xj = x + j * kRowBlock;
      T* __restrict yj = y + j * kRowBlock;
      LATF_LANE_LOOP
      for (int b = 0; b < kRowBlock; ++b) {
        xj[b] = px[offset[b] + j];
        yj[b] = py[offset[b] + j];
      }
    }
    T* __restrict m = max;
    T* __restrict s = sum;
    LATF_LANE_LOOP
    for (int b = 0; b < kRowBlock; ++b) m[b] = x[b];
    for (std::int64_t j = 1; j < k; ++j) {
      const T* __restrict xj = x + j * kRowBlock;
      LATF_LANE_LOOP
      for (int b = 0; b < kRowBlock; ++b) m[b] = running_max(xj[b], m[b]);
    }
    LATF_LANE_LOOP
    for (int b = 0; b < kRowBlock; ++b) s[b] = T(0);
    for (std::int64_t j = 0; j < k; ++j) {
      T* __restrict xj = x + j * kRowBlock;
      LATF_LANE_LOOP
      for (int b = 0; b < kRowBlock; ++b) {
        const T e = host_shifted_exp(xj[b], m[b]);
        s[b] += e;
        if (keep_exp) xj[b] = e;
      }
    }
  }
};

template <class T>
void cross_entropy_forward_cpu(const Tensor& logits, const Tensor& targets, const Tensor& weights, Tensor& loss) {
  const std::int64_t n = logits.dim(0), k = logits.dim(1);
  const T* w = data_or_null<T>(weights);
  CrossEntropyBlock<T> block(k, logits.dtype());
  T log_sum[kRowBlock], row_loss[kRowBlock];
  // Rows are summed in double so that a float32 batch of any size loses nothing to the sum.
  double total = 0.0;
  for (std::int64_t first = 0; first < n; first += kRowBlock) {
    block.load(logits.data<T>(), targets.data<T>(), first, n, k, false);
    LATF_LANE_LOOP
    for (int b = 0; b < kRowBlock; ++b) {
      log_sum[b] = host_log(block.sum[b]);
      row_loss[b] = T(0);
    }
    for (std::int64_t j = 0; j < k; ++j) {
      const T* __restrict xj = block.x + j * kRowBlock;
      const T* __restrict yj = block.y + j * kRowBlock;
      LATF_LANE_LOOP
      for (int b = 0; b < kRowBlock; ++b) row_loss[b] += cross_entropy_term(xj[b], yj[b], block.max[b], log_sum[b]);
    }
    const int count = static_cast<int>(n - first < kRowBlock ? n - first : kRowBlock);
    for (int b = 0; b < count; ++b) total += w ? double(w[first + b]) * row_loss[b] : double(row_loss[b]);
  }
  loss.data<T>()[0] = static_cast<T>(total / double(n));
}

template <class T>
void cross_entropy_backward_cpu(const Tensor& logits, const Tensor& targets, const Tensor& weights,
                                const Tensor& dloss, Tensor& dlogits) {
  const std::int64_t n = logits.dim(0), k = logits.dim(1);
  const T* w = data_or_null<T>(weights);
  T* dx = dlogits.data<T>();
  const T g = dloss.data<T>()[0] / T(n);
  CrossEntropyBlock<T> block(k, logits.dtype());
  for (std::int64_t first = 0; first < n; first += kRowBlock) {
    block.load(logits.data<T>(), targets.data<T>(), first, n, k, true);
    T* __restrict mass = block.mass;
    LATF_LANE_LOOP
    for (int b = 0; b < kRowBlock; ++b) mass[b] = T(0);
    for (std::int64_t j = 0; j < k; ++j) {
      const T* __restrict yj = block.y + j * kRowBlock;
      LATF_LANE_LOOP
      for (int b = 0; b < kRowBlock; ++b) mass[b] += yj[b];
    }
    const int count = static_cast<int>(n - first < kRowBlock ? n - first : kRowBlock);
    T row_g[kRowBlock];
    LATF_LANE_LOOP
    for (int b = 0; b < kRowBlock; ++b) row_g[b] = w && b < count ? g * w[first + b] : g;
    // The gradients lane-wise (vectorised, division included), then added to the rows.
    for (std::int64_t j = 0; j < k; ++j) {
      T* __restrict xj = block.x + j * kRowBlock;
      const T* __restrict yj = block.y + j * kRowBlock;
      LATF_LANE_LOOP
      for (int b = 0; b < kRowBlock; ++b)
        xj[b] = cross_entropy_gradient(xj[b], block.sum[b], yj[b], mass[b], row_g[b]);
    }
    for (int b = 0; b < count; ++b) {
      T* __restrict row = dx + (first + b) * k;
      for (std::int64_t j = 0; j < k; ++j) row[j] += block.x[j * kRowBlock + b];
    }
  }
}

}  // namespace

void log_softmax_forward(const Tensor& logits, Tensor& out) {
  check_logits(logits, "log_softmax logits");
  require_shape(out, logits.shape(), "log_softmax output");
  require_same_device(logits, out, "log_softmax logits", "log_softmax output");
  const Tensor x = as_rows(logits);
  Tensor y = as_rows(out);
  if (x.device().is_cuda()) {
#if LATF_WITH_CUDA
    log_softmax_forward_cuda(x.data<float>(), y.data<float>(), x.dim(0), x.dim(1), x.device().index);
#else
    no_cuda_backend("log_softmax_forward");
#endif
    return;
  }
  dispatch_cpu_dtype(x, [&](auto zero) { log_softmax_forward_cpu<decltype(zero)>(x, y); });
}

void log_softmax_backward(const Tensor& out, const Tensor& dout, Tensor& dlogits) {
  check_logits(out, "log_softmax output");
  require_shape(dout, out.shape(), "log_softmax output gradient");
  require_same_device(out, dout, "log_softmax output", "log_softmax output gradient");
  if (!dlogits.defined()) return;
  require_shape(dlogits, out.shape(), "log_softmax logits gradient");
  require_same_device(out, dlogits, "log_softmax output", "log_softmax logits gradient");
  const Tensor y = as_rows(out), dy = as_rows(dout);
  Tensor dx = as_rows(dlogits);
  if (y.device().is_cuda()) {
#if LATF_WITH_CUDA
    log_softmax_backward_cuda(y.data<float>(), dy.data<float>(), dx.data<float>(), y.dim(0), y.dim(1),
                              y.device().index);
#else
    no_cuda_backend("log_softmax_backward");
#endif
    return;
  }
  dispatch_cpu_dtype(y, [&](auto zero) { log_softmax_backward_cpu<decltype(zero)>(y, dy, dx); });
}

void weighted_cross_entropy_forward(const Tensor& logits, const Tensor& targets, const Tensor& weights,
                                    Tensor& loss) {
  check_cross_entropy(logits, targets, weights);
  require_shape(loss, loss_shape(logits), "weighted_cross_entropy loss");
  require_same_device(logits, loss, "weighted_cross_entropy logits", "weighted_cross_entropy loss");
  const std::int64_t rows = logits.dim(logits.rank() - 2), k = logits.dim(logits.rank() - 1);
  if (models_of(logits) == 0) return;  // [0, N, K]: no model, nothing to compute
  if (logits.device().is_cuda()) {
#if LATF_WITH_CUDA
    weighted_cross_entropy_forward_cuda(logits.data<float>(), targets.data<float>(), data_or_null<float>(weights),
                                        loss.data<float>(), models_of(logits), rows, k, logits.device().index);
#else
    no_cuda_backend("weighted_cross_entropy_forward");
#endif
    return;
  }
  if (is_stacked(logits)) {
    for (std::int64_t m = 0; m < logits.dim(0); ++m) {
      Tensor loss_m = loss.view(m, {1});
      weighted_cross_entropy_forward(model_slice(logits, m), model_slice(targets, m), model_slice(weights, m),
                                     loss_m);
    }
    return;
  }
  dispatch_cpu_dtype(logits, [&](auto zero) {
    cross_entropy_forward_cpu<decltype(zero)>(logits, targets, weights, loss);
  });
}

void weighted_cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& weights,
                                     const Tensor& dloss, Tensor& dlogits) {
  check_cross_entropy(logits, targets, weights);
  require_shape(dloss, loss_shape(logits), "weighted_cross_entropy loss gradient");
  require_same_device(logits, dloss, "weighted_cross_entropy logits", "weighted_cross_entropy loss gradient");
  if (!dlogits.defined()) return;
  require_shape(dlogits, logits.shape(), "weighted_cross_entropy logits gradient");
  require_same_device(logits, dlogits, "weighted_cross_entropy logits", "weighted_cross_entropy logits gradient");
  const std::int64_t rows = logits.dim(logits.rank() - 2), k = logits.dim(logits.rank() - 1);
  if (models_of(logits) == 0) return;  // [0, N, K]: no model, nothing to compute
  if (logits.device().is_cuda()) {
#if LATF_WITH_CUDA
    weighted_cross_entropy_backward_cuda(logits.data<float>(), targets.data<float>(), data_or_null<float>(weights),
                                         dloss.data<float>(), dlogits.data<float>(), models_of(logits), rows, k,
                                         logits.device().index);
#else
    no_cuda_backend("weighted_cross_entropy_backward");
#endif
    return;
  }
  if (is_stacked(logits)) {
    for (std::int64_t m = 0; m < logits.dim(0); ++m) {
      Tensor dlogits_m = model_slice(dlogits, m);
      weighted_cross_entropy_backward(model_slice(logits, m), model_slice(targets, m), model_slice(weights, m),
                                      dloss.view(m, {1}), dlogits_m);
    }
    return;
  }
  dispatch_cpu_dtype(logits, [&](auto zero) {
    cross_entropy_backward_cpu<decltype(zero)>(logits, targets, weights, dloss, dlogits);
  });
}

}  // namespace latf::kernels
