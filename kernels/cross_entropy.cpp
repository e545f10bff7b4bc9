#include "kernels/cross_entropy.hpp"

#include "kernels/cross_entropy_math.hpp"
#include "kernels/vector_exp.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void log_softmax_forward_cuda(const float* logits, float* out, std::int64_t n, std::int64_t k, int device);
void log_softmax_backward_cuda(const float* out, const float* dout, float* dlogits, std::int64_t n,
                               std::int64_t k, int device);
void weighted_cross_entropy_forward_cuda(const float* logits, const float* targets, const float* weights,
                                         float* loss, std::int64_t n, std::int64_t k, int device);
void weighted_cross_entropy_backward_cuda(const float* logits, const float* targets, const float* weights,
                                          const float* dloss, float* dlogits, std::int64_t n, std::int64_t k,
                                          int device);
#endif

namespace {

void check_logits(const Tensor& logits, const char* name) {
  require_defined(logits, name);
  LATF_REQUIRE(logits.rank() == 2, name, ": expected rank 2 [N, K], got shape ", logits.shape().str());
  LATF_REQUIRE(logits.dim(1) >= 1, name, ": expected at least one class (K ≥ 1), got shape ",
               logits.shape().str());
}

void check_cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& weights) {
  check_logits(logits, "weighted_cross_entropy logits");
  LATF_REQUIRE(logits.dim(0) >= 1, "weighted_cross_entropy logits: expected at least one row, got shape ",
               logits.shape().str(), " (empty batch)");
  require_shape(targets, logits.shape(), "weighted_cross_entropy targets");
  require_same_device(logits, targets, "weighted_cross_entropy logits", "weighted_cross_entropy targets");
  if (weights.defined()) {
    require_shape(weights, {logits.dim(0)}, "weighted_cross_entropy weights");
    require_same_device(logits, weights, "weighted_cross_entropy logits", "weighted_cross_entropy weights");
  }
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
  if (logits.device().is_cuda()) {
#if LATF_WITH_CUDA
    log_softmax_forward_cuda(logits.data<float>(), out.data<float>(), logits.dim(0), logits.dim(1),
                             logits.device().index);
#else
    no_cuda_backend("log_softmax_forward");
#endif
    return;
  }
  dispatch_cpu_dtype(logits, [&](auto zero) { log_softmax_forward_cpu<decltype(zero)>(logits, out); });
}

void log_softmax_backward(const Tensor& out, const Tensor& dout, Tensor& dlogits) {
  check_logits(out, "log_softmax output");
  require_shape(dout, out.shape(), "log_softmax output gradient");
  require_same_device(out, dout, "log_softmax output", "log_softmax output gradient");
  if (!dlogits.defined()) return;
  require_shape(dlogits, out.shape(), "log_softmax logits gradient");
  require_same_device(out, dlogits, "log_softmax output", "log_softmax logits gradient");
  if (out.device().is_cuda()) {
#if LATF_WITH_CUDA
    log_softmax_backward_cuda(out.data<float>(), dout.data<float>(), dlogits.data<float>(), out.dim(0),
                              out.dim(1), out.device().index);
#else
    no_cuda_backend("log_softmax_backward");
#endif
    return;
  }
  dispatch_cpu_dtype(out, [&](auto zero) { log_softmax_backward_cpu<decltype(zero)>(out, dout, dlogits); });
}

void weighted_cross_entropy_forward(const Tensor& logits, const Tensor& targets, const Tensor& weights,
                                    Tensor& loss) {
  check_cross_entropy(logits, targets, weights);
  require_shape(loss, {1}, "weighted_cross_entropy loss");
  require_same_device(logits, loss, "weighted_cross_entropy logits", "weighted_cross_entropy loss");
  if (logits.device().is_cuda()) {
#if LATF_WITH_CUDA
    weighted_cross_entropy_forward_cuda(logits.data<float>(), targets.data<float>(), data_or_null<float>(weights),
                                        loss.data<float>(), logits.dim(0), logits.dim(1), logits.device().index);
#else
    no_cuda_backend("weighted_cross_entropy_forward");
#endif
    return;
  }
  dispatch_cpu_dtype(logits, [&](auto zero) {
    cross_entropy_forward_cpu<decltype(zero)>(logits, targets, weights, loss);
  });
}

void weighted_cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& weights,
                                     const Tensor& dloss, Tensor& dlogits) {
  check_cross_entropy(logits, targets, weights);
  require_shape(dloss, {1}, "weighted_cross_entropy loss gradient");
  require_same_device(logits, dloss, "weighted_cross_entropy logits", "weighted_cross_entropy loss gradient");
  if (!dlogits.defined()) return;
  require_shape(dlogits, logits.shape(), "weighted_cross_entropy logits gradient");
  require_same_device(logits, dlogits, "weighted_cross_entropy logits", "weighted_cross_entropy logits gradient");
  if (logits.device().is_cuda()) {
#if LATF_WITH_CUDA
    weighted_cross_entropy_backward_cuda(logits.data<float>(), targets.data<float>(), data_or_null<float>(weights),
                                         dloss.data<float>(), dlogits.data<float>(), logits.dim(0), logits.dim(1),
                                         logits.device().index);
#else
    no_cuda_backend("weighted_cross_entropy_backward");
#endif
    return;
  }
  dispatch_cpu_dtype(logits, [&](auto zero) {
    cross_entropy_backward_cpu<decltype(zero)>(logits, targets, weights, dloss, dlogits);
  });
}

}  // namespace latf::kernels
