#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/gaussian.hpp"
#include "kernels/gaussian_math.hpp"
#include "kernels/vamp_device.cuh"

namespace latf::kernels {

namespace {

// Adds the block-wide sum of `value` to *target with one atomicAdd. Every thread of the block
// must call it (it synchronises); blockDim.x must be cuda::kBlock, a power of two.
__device__ void block_sum_into(float value, float* target) {
  __shared__ float partial[cuda::kBlock];
  partial[threadIdx.x] = value;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) atomicAdd(target, partial[0]);
}

__device__ std::int64_t first_index() { return blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; }
__device__ std::int64_t grid_stride() { return std::int64_t(gridDim.x) * blockDim.x; }

// Stacked models: one launch covers them all with the model as blockIdx.y (gridDim.y = M, 1 in
// the single form), and every per-model pointer moves m × (its per-model stride). A block works
// for one model only, so its block-level reductions stay inside that model.
__device__ std::int64_t model_index() { return blockIdx.y; }

template <class P>
__device__ P* model_pointer(P* base, std::int64_t stride) {
  return base ? base + model_index() * stride : nullptr;
}

// lv_step is 0 for a shared [1] log-variance, 1 for one per element. n elements per model; the
// log-variance moves lv_model_stride per model (1 for the per-model scalar, n per element).
__global__ void reparameterize_forward_kernel(const float* mean, const float* log_variance, int lv_step,
                                              const float* noise, float* u, std::int64_t n,
                                              std::int64_t lv_model_stride) {
  mean = model_pointer(mean, n);
  noise = model_pointer(noise, n);
  u = model_pointer(u, n);
  log_variance = model_pointer(log_variance, lv_model_stride);
  for (std::int64_t i = first_index(); i < n; i += grid_stride())
    u[i] = reparameterize_value(mean[i], log_variance[i * lv_step], noise[i]);
}

__global__ void reparameterize_backward_kernel(const float* log_variance, int lv_step, const float* noise,
                                               const float* du, float* dmean, float* dlog_variance, std::int64_t n,
                                               std::int64_t lv_model_stride) {
  log_variance = model_pointer(log_variance, lv_model_stride);
  noise = model_pointer(noise, n);
  du = model_pointer(du, n);
  dmean = model_pointer(dmean, n);
  dlog_variance = model_pointer(dlog_variance, lv_model_stride);
  float shared_total = 0.f;
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) {
    if (dmean) dmean[i] += du[i];
    if (!dlog_variance) continue;
    const float g = reparameterize_dlog_variance(log_variance[i * lv_step], noise[i], du[i]);
    if (lv_step) {
      dlog_variance[i] += g;
    } else {
      shared_total += g;
    }
  }
  if (dlog_variance && lv_step == 0) block_sum_into(shared_total, dlog_variance);
}

// One thread per row; n rows per model.
__global__ void gaussian_forward_kernel(const float* u, const float* mean, const float* log_variance,
                                        int lv_row_stride, int lv_step, float* out, std::int64_t n, int d,
                                        std::int64_t lv_model_stride) {
  u = model_pointer(u, n * d);
  mean = model_pointer(mean, n * d);
  log_variance = model_pointer(log_variance, lv_model_stride);
  out = model_pointer(out, n);
  for (std::int64_t row = first_index(); row < n; row += grid_stride())
    out[row] = gaussian_row_log_density(u + row * d, mean + row * d, log_variance + row * lv_row_stride, lv_step, d);
}

// One thread per element; a shared log-variance's gradient is reduced per block.
__global__ void gaussian_backward_kernel(const float* u, const float* mean, const float* log_variance, int lv_step,
                                         const float* dout, float* du, float* dmean, float* dlog_variance,
                                         std::int64_t n, int d, std::int64_t lv_model_stride) {
  u = model_pointer(u, n * d);
  mean = model_pointer(mean, n * d);
  log_variance = model_pointer(log_variance, lv_model_stride);
  dout = model_pointer(dout, n);
  du = model_pointer(du, n * d);
  dmean = model_pointer(dmean, n * d);
  dlog_variance = model_pointer(dlog_variance, lv_model_stride);
  float shared_total = 0.f;
  const std::int64_t total = n * d;
  for (std::int64_t e = first_index(); e < total; e += grid_stride()) {
    const float g = dout[e / d];
    const GaussianTermGradient<float> t = gaussian_log_term_gradient(u[e], mean[e], log_variance[e * lv_step]);
    if (du) du[e] += g * t.du;
    if (dmean) dmean[e] -= g * t.du;
    if (dlog_variance && lv_step) dlog_variance[e] += g * t.dlog_variance;
    if (dlog_variance && !lv_step) shared_total += g * t.dlog_variance;
  }
  if (dlog_variance && lv_step == 0) block_sum_into(shared_total, dlog_variance);
}

// Model m's constants: the same layout, constants_stride floats further on.
__device__ VampConstants<float> model_constants(VampConstants<float> c, std::int64_t constants_stride) {
  const std::int64_t offset = model_index() * constants_stride;
  c.means += offset;
  c.inverse_variance += offset;
  c.offset += offset;
  c.weight += offset;
  return c;
}

// One thread per component: the per-call constants every row reads (1/σ², log π_k − ½ Σ_j log σ²_kj,
// π_k). Each thread computes the logits' normaliser itself (K work, done once per call).
__global__ void vamp_prepare_kernel(VampParameters<float> p, VampConstants<float> c, std::int64_t lv_model_stride,
                                    std::int64_t constants_stride) {
  p.means = model_pointer(p.means, std::int64_t(p.k_count) * p.d);
  p.log_variance = model_pointer(p.log_variance, lv_model_stride);
  p.logits = model_pointer(p.logits, p.k_count);
  c = model_constants(c, constants_stride);
  const float log_normalizer = log_sum_exp(p.logits, p.k_count);
  for (std::int64_t k = first_index(); k < p.k_count; k += grid_stride())
    vamp_prepare_component(p, log_normalizer, static_cast<int>(k), c);
}

// One thread per row; n rows per model.
__global__ void vamp_forward_kernel(const float* u, VampConstants<float> c, float* out, std::int64_t n,
                                    std::int64_t constants_stride) {
  u = model_pointer(u, n * c.d);
  out = model_pointer(out, n);
  c = model_constants(c, constants_stride);
  for (std::int64_t row = first_index(); row < n; row += grid_stride())
    out[row] = vamp_row_log_density(u + row * c.d, c);
}

// One thread per row. With `stage`, dynamic shared memory holds [K·d means | K·d log-variance
// (absent when it is a scalar) | K logits] partials, flushed to global once per block.
__global__ void vamp_backward_kernel(const float* u, VampConstants<float> c, int lv_row_stride, int lv_step,
                                     const float* dout, float* du, float* dmeans, float* dlog_variance,
                                     float* dlogits, std::int64_t n, bool scalar_log_variance, bool stage,
                                     std::int64_t lv_model_stride, std::int64_t constants_stride) {
  extern __shared__ float staged[];
  const std::int64_t kd = std::int64_t(c.k_count) * c.d;
  u = model_pointer(u, n * c.d);
  dout = model_pointer(dout, n);
  du = model_pointer(du, n * c.d);
  dmeans = model_pointer(dmeans, kd);
  dlog_variance = model_pointer(dlog_variance, lv_model_stride);
  dlogits = model_pointer(dlogits, c.k_count);
  c = model_constants(c, constants_stride);
  DeviceVampSink sink{dmeans, scalar_log_variance ? nullptr : dlog_variance, dlogits, scalar_log_variance, 0.f};
  const VampStaging staging(staged, sink, c.k_count, c.d);
  if (stage) staging.begin(sink);
  for (std::int64_t row = first_index(); row < n; row += grid_stride())
    vamp_row_backward(u + row * c.d, c, lv_row_stride, lv_step, dout[row], du ? du + row * c.d : nullptr, sink);
  if (stage) staging.flush();
  if (dlog_variance && scalar_log_variance) block_sum_into(sink.log_variance_total, dlog_variance);
}

// Either form seen as M models (1 in the single form) of `rows` rows of width d; `partner` is the
// [rows, d] or [M, rows, d] operand whose elements the log-variance covers.
struct Geometry {
  std::int64_t models;
  std::int64_t rows;
  int d;
  bool scalar_lv;                // [1] or the stacked per-model [M, 1]
  int lv_step;                   // 0 for the scalar, 1 per element
  std::int64_t lv_model_stride;  // log-variance floats per model
};

Geometry geometry_of(const Tensor& partner, const Tensor& log_variance) {
  const bool stacked = partner.rank() == 3;
  Geometry g;
  g.models = stacked ? partner.dim(0) : 1;
  g.rows = partner.dim(stacked ? 1 : 0);
  g.d = static_cast<int>(partner.dim(stacked ? 2 : 1));
  g.scalar_lv = log_variance.rank() == (stacked ? 2 : 1);
  g.lv_step = g.scalar_lv ? 0 : 1;
  g.lv_model_stride = log_variance.numel() / g.models;
  return g;
}

dim3 grid_of(std::int64_t per_model, std::int64_t models, unsigned max_x = 0) {
  unsigned x = cuda::grid_for(per_model);
  if (max_x > 0) x = std::min(x, max_x);
  return dim3(x, static_cast<unsigned>(models));
}

float* data_or_null_float(Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// Computes the VampPrior's per-call constants of every model on the device into `storage`
// (pooled; the pool is stream-ordered, so it stays valid for the kernels queued after this) and
// returns model 0's view, laid out [K, d] so that one thread's row reads each component's d values
// together; model m's constants sit m × constants_stride floats further on.
VampConstants<float> prepare_device_vamp(const Tensor& means, const Tensor& log_variance, const Tensor& mixture_logits,
                                         const Geometry& g, Tensor& storage, std::int64_t& constants_stride) {
  const bool stacked = means.rank() == 3;
  const int k_count = static_cast<int>(means.dim(stacked ? 1 : 0));
  const std::int64_t kd = std::int64_t(k_count) * g.d;
  constants_stride = 2 * kd + 2 * std::int64_t(k_count);
  storage = Tensor::empty({g.models * constants_stride}, means.device());
  float* base = storage.data<float>();
  const VampConstants<float> c{base, base + kd, base + 2 * kd, base + 2 * kd + k_count, k_count, g.d, g.d, 1};
  const VampParameters<float> p{means.data<float>(), log_variance.data<float>(), mixture_logits.data<float>(),
                                k_count, g.d, g.lv_step * g.d, g.lv_step};
  vamp_prepare_kernel<<<grid_of(k_count, g.models), cuda::kBlock, 0, cuda::current_stream(means.device().index)>>>(
      p, c, g.lv_model_stride, constants_stride);
  LATF_CUDA_CHECK_LAUNCH();
  return c;
}

}  // namespace

void reparameterize_forward_cuda(const Tensor& mean, const Tensor& log_variance, const Tensor& noise, Tensor& u) {
  const Geometry g = geometry_of(mean, log_variance);
  const std::int64_t n = g.rows * g.d;
  if (n == 0 || g.models == 0) return;
  reparameterize_forward_kernel<<<grid_of(n, g.models), cuda::kBlock, 0, cuda::current_stream(mean.device().index)>>>(
      mean.data<float>(), log_variance.data<float>(), g.lv_step, noise.data<float>(), u.data<float>(), n,
      g.lv_model_stride);
  LATF_CUDA_CHECK_LAUNCH();
}

void reparameterize_backward_cuda(const Tensor& log_variance, const Tensor& noise, const Tensor& du, Tensor& dmean,
                                  Tensor& dlog_variance) {
  const Geometry g = geometry_of(noise, log_variance);
  const std::int64_t n = g.rows * g.d;
  if (n == 0 || g.models == 0 || (!dmean.defined() && !dlog_variance.defined())) return;
  reparameterize_backward_kernel<<<grid_of(n, g.models), cuda::kBlock, 0,
                                   cuda::current_stream(noise.device().index)>>>(
      log_variance.data<float>(), g.lv_step, noise.data<float>(), du.data<float>(), data_or_null_float(dmean),
      data_or_null_float(dlog_variance), n, g.lv_model_stride);
  LATF_CUDA_CHECK_LAUNCH();
}

void gaussian_log_density_forward_cuda(const Tensor& u, const Tensor& mean, const Tensor& log_variance, Tensor& out) {
  const Geometry g = geometry_of(u, log_variance);
  if (g.rows == 0 || g.models == 0) return;
  gaussian_forward_kernel<<<grid_of(g.rows, g.models), cuda::kBlock, 0, cuda::current_stream(u.device().index)>>>(
      u.data<float>(), mean.data<float>(), log_variance.data<float>(), g.lv_step * g.d, g.lv_step, out.data<float>(),
      g.rows, g.d, g.lv_model_stride);
  LATF_CUDA_CHECK_LAUNCH();
}

void gaussian_log_density_backward_cuda(const Tensor& u, const Tensor& mean, const Tensor& log_variance,
                                        const Tensor& dout, Tensor& du, Tensor& dmean, Tensor& dlog_variance) {
  const Geometry g = geometry_of(u, log_variance);
  const std::int64_t n = g.rows * g.d;
  if (n == 0 || g.models == 0 || (!du.defined() && !dmean.defined() && !dlog_variance.defined())) return;
  gaussian_backward_kernel<<<grid_of(n, g.models), cuda::kBlock, 0, cuda::current_stream(u.device().index)>>>(
      u.data<float>(), mean.data<float>(), log_variance.data<float>(), g.lv_step, dout.data<float>(),
      data_or_null_float(du), data_or_null_float(dmean), data_or_null_float(dlog_variance), g.rows, g.d,
      g.lv_model_stride);
  LATF_CUDA_CHECK_LAUNCH();
}

void vamp_log_density_forward_cuda(const Tensor& u, const Tensor& means, const Tensor& log_variance,
                                   const Tensor& mixture_logits, Tensor& out) {
  const Geometry g = geometry_of(means, log_variance);
  const std::int64_t n = u.dim(u.rank() - 2);
  if (n == 0 || g.models == 0) return;
  Tensor constants;
  std::int64_t constants_stride = 0;
  const VampConstants<float> c = prepare_device_vamp(means, log_variance, mixture_logits, g, constants, constants_stride);
  vamp_forward_kernel<<<grid_of(n, g.models), cuda::kBlock, 0, cuda::current_stream(u.device().index)>>>(
      u.data<float>(), c, out.data<float>(), n, constants_stride);
  LATF_CUDA_CHECK_LAUNCH();
}

void vamp_log_density_backward_cuda(const Tensor& u, const Tensor& means, const Tensor& log_variance,
                                    const Tensor& mixture_logits, const Tensor& dout, Tensor& du, Tensor& dmeans,
                                    Tensor& dlog_variance, Tensor& dmixture_logits) {
  const Geometry g = geometry_of(means, log_variance);
  const std::int64_t n = u.dim(u.rank() - 2);
  if (n == 0 || g.models == 0) return;
  const VampBackwardLaunch launch = vamp_backward_launch(means.dim(means.rank() - 2), g.d, g.scalar_lv, g.models);
  Tensor constants;
  std::int64_t constants_stride = 0;
  const VampConstants<float> c = prepare_device_vamp(means, log_variance, mixture_logits, g, constants, constants_stride);
  vamp_backward_kernel<<<grid_of(n, g.models, launch.max_blocks_per_model), cuda::kBlock, launch.shared_bytes,
                         cuda::current_stream(u.device().index)>>>(
      u.data<float>(), c, g.lv_step * g.d, g.lv_step, dout.data<float>(), data_or_null_float(du),
      data_or_null_float(dmeans), data_or_null_float(dlog_variance), data_or_null_float(dmixture_logits), n,
      g.scalar_lv, launch.stage, g.lv_model_stride, constants_stride);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
