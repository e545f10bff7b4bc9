#include <algorithm>

#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/model_sums.cuh"
#include "kernels/prior_terms.hpp"
#include "kernels/prior_terms_math.hpp"
#include "kernels/vamp_device.cuh"

namespace latf::kernels {

namespace {

using prior_terms::row_gradient;
using prior_terms::TiltedNllRows;
using prior_terms::VampKlRows;

__device__ std::int64_t first_index() { return blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; }
__device__ std::int64_t grid_stride() { return std::int64_t(gridDim.x) * blockDim.x; }

// Adds the block-wide sums of a and b to *a_target and *b_target (null: skipped) with one atomicAdd
// each. Every thread of the block must call it; blockDim.x must be cuda::kBlock (a power of two).
__device__ void block_sums_into(float a, float* a_target, float b, float* b_target) {
  __shared__ float partial[2][cuda::kBlock];
  partial[0][threadIdx.x] = a;
  partial[1][threadIdx.x] = b;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      partial[0][threadIdx.x] += partial[0][threadIdx.x + stride];
      partial[1][threadIdx.x] += partial[1][threadIdx.x + stride];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    if (a_target) atomicAdd(a_target, partial[0][0]);
    if (b_target) atomicAdd(b_target, partial[1][0]);
  }
}

dim3 grid_of(std::int64_t per_model, std::int64_t models, unsigned max_x = 0) {
  unsigned x = cuda::grid_for(per_model);
  if (max_x > 0) x = std::min(x, max_x);
  return dim3(x, static_cast<unsigned>(models));
}

float* data_or_null_float(Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// ---------------------------------------------------------------- SPIB phase: vamp_kl_term

// Either form seen as M models (1 single) of n rows of width d and K components.
struct VampGeometry {
  std::int64_t models, n;
  int d, k_count;
  bool encoder_scalar, prior_scalar;
  std::int64_t encoder_lv_model_stride, prior_lv_model_stride, constants_stride;
};

VampGeometry geometry_of(const Tensor& u, const Tensor& log_variance, const Tensor& means,
                         const Tensor& component_log_variance) {
  const bool stacked = u.rank() == 3;
  VampGeometry g;
  g.models = stacked ? u.dim(0) : 1;
  g.n = u.dim(stacked ? 1 : 0);
  g.d = static_cast<int>(u.dim(stacked ? 2 : 1));
  g.k_count = static_cast<int>(means.dim(stacked ? 1 : 0));
  const int scalar_rank = stacked ? 2 : 1;  // [1] or [M, 1]
  g.encoder_scalar = log_variance.rank() == scalar_rank;
  g.prior_scalar = component_log_variance.rank() == scalar_rank;
  g.encoder_lv_model_stride = log_variance.numel() / g.models;
  g.prior_lv_model_stride = component_log_variance.numel() / g.models;
  g.constants_stride = 2 * std::int64_t(g.k_count) * g.d + 2 * std::int64_t(g.k_count);
  return g;
}

// One thread per component of one model (blockIdx.y): the mixture's per-call constants
// (gaussian_math.hpp's vamp_prepare_component), laid out [K, d], model m constants_stride further.
__global__ void prior_prepare_kernel(VampParameters<float> p, VampConstants<float> c, std::int64_t lv_model_stride,
                                     std::int64_t constants_stride) {
  const std::int64_t m = blockIdx.y;
  p.means += m * p.k_count * p.d;
  p.log_variance += m * lv_model_stride;
  p.logits += m * p.k_count;
  const std::int64_t offset = m * constants_stride;
  c.means += offset;
  c.inverse_variance += offset;
  c.offset += offset;
  c.weight += offset;
  const float log_normalizer = log_sum_exp(p.logits, p.k_count);
  for (std::int64_t k = first_index(); k < p.k_count; k += grid_stride())
    vamp_prepare_component(p, log_normalizer, static_cast<int>(k), c);
}

// Model 0's rows and the per-model strides; also the CUB term functor of the forward (index over
// all M·n rows, rows of every model contiguous).
struct DeviceVampKl {
  VampKlRows<float> rows;
  std::int64_t n, encoder_lv_model_stride, constants_stride;
  const float* weights;  // [M·n] or null

  __device__ VampKlRows<float> model(std::int64_t m) const {
    VampKlRows<float> p = rows;
    p.u += m * n * p.d;
    p.mean += m * n * p.d;
    p.log_variance += m * encoder_lv_model_stride;
    const std::int64_t offset = m * constants_stride;
    p.prior.means += offset;
    p.prior.inverse_variance += offset;
    p.prior.offset += offset;
    p.prior.weight += offset;
    return p;
  }

  __device__ double operator()(std::int64_t index) const {
    const std::int64_t m = index / n;
    const double term = prior_terms::vamp_kl_row(model(m), index - m * n);
    return weights ? double(weights[index]) * term : term;
  }
};

// Launches the constants kernel into `constants` (pooled, stream-ordered: valid for the kernels
// queued after it) and describes model 0.
DeviceVampKl describe_vamp_kl(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const Tensor& means,
                              const Tensor& component_log_variance, const Tensor& mixture_logits,
                              const Tensor& weights, const VampGeometry& g, Tensor& constants) {
  const std::int64_t kd = std::int64_t(g.k_count) * g.d;
  constants = Tensor::empty({g.models * g.constants_stride}, u.device());
  float* base = constants.data<float>();
  const VampConstants<float> c{base, base + kd, base + 2 * kd, base + 2 * kd + g.k_count, g.k_count, g.d, g.d, 1};
  const int prior_row_stride = g.prior_scalar ? 0 : g.d, prior_step = g.prior_scalar ? 0 : 1;
  const VampParameters<float> p{means.data<float>(), component_log_variance.data<float>(),
                                mixture_logits.data<float>(), g.k_count, g.d, prior_row_stride, prior_step};
  prior_prepare_kernel<<<grid_of(g.k_count, g.models), cuda::kBlock, 0, cuda::current_stream(u.device().index)>>>(
      p, c, g.prior_lv_model_stride, g.constants_stride);
  LATF_CUDA_CHECK_LAUNCH();
  DeviceVampKl f;
  f.rows = VampKlRows<float>{u.data<float>(),
                             mean.data<float>(),
                             log_variance.data<float>(),
                             g.encoder_scalar ? 0 : g.d,
                             g.encoder_scalar ? 0 : 1,
                             c,
                             prior_row_stride,
                             prior_step,
                             g.d};
  f.n = g.n;
  f.encoder_lv_model_stride = g.encoder_lv_model_stride;
  f.constants_stride = g.constants_stride;
  f.weights = weights.defined() ? weights.data<float>() : nullptr;
  return f;
}

// Where vamp_kl_row_backward's row-shared gradients go: the VampPrior's as in the density's
// backward, plus the encoder's log-variance. A scalar one sums in a register, block-reduced at the
// end; a per-element one belongs to its row and gets a plain add.
struct DeviceKlSink : DeviceVampSink {
  float* dencoder_lv;
  bool encoder_scalar;
  float encoder_total;
  __device__ void encoder_log_variance(std::int64_t index, float v) {
    if (encoder_scalar) {
      encoder_total += v;
    } else if (dencoder_lv) {
      dencoder_lv[index] += v;
    }
  }
};

// Model 0's gradient buffers (null = not needed).
struct KlGradients {
  float* du;
  float* dmean;
  float* dlog_variance;
  float* dmeans;
  float* dprior_lv;
  float* dlogits;
};

// One thread per row, the model as blockIdx.y. With `stage`, dynamic shared memory holds [K·d
// means | K·d component log-variances (absent for a scalar) | K logits] partials, flushed to global
// memory once per block.
__global__ void vamp_kl_backward_kernel(DeviceVampKl f, const float* dloss, KlGradients grad, bool stage,
                                        std::int64_t prior_lv_model_stride) {
  extern __shared__ float staged[];
  const std::int64_t m = blockIdx.y;
  const VampKlRows<float> p = f.model(m);
  const int d = p.d, k_count = p.prior.k_count, means_count = k_count * d;
  const bool prior_scalar = p.prior_lv_step == 0, encoder_scalar = p.lv_step == 0;
  const std::int64_t row_floats = f.n * d;
  float* du = grad.du ? grad.du + m * row_floats : nullptr;
  float* dmean = grad.dmean ? grad.dmean + m * row_floats : nullptr;
  float* dencoder_lv = grad.dlog_variance ? grad.dlog_variance + m * f.encoder_lv_model_stride : nullptr;
  float* dmeans = grad.dmeans ? grad.dmeans + m * means_count : nullptr;
  float* dprior_lv = grad.dprior_lv ? grad.dprior_lv + m * prior_lv_model_stride : nullptr;
  float* dlogits = grad.dlogits ? grad.dlogits + m * k_count : nullptr;
  DeviceKlSink sink{{dmeans, prior_scalar ? nullptr : dprior_lv, dlogits, prior_scalar, 0.f},
                    dencoder_lv, encoder_scalar, 0.f};
  const VampStaging staging(staged, sink, k_count, d);
  if (stage) staging.begin(sink);
  const float g = dloss[m] / float(f.n);
  const float* w = f.weights ? f.weights + m * f.n : nullptr;
  for (std::int64_t row = first_index(); row < f.n; row += grid_stride())
    prior_terms::vamp_kl_row_backward(p, row, row_gradient(g, w, row), du ? du + row * d : nullptr,
                                      dmean ? dmean + row * d : nullptr, sink);
  if (stage) staging.flush();
  block_sums_into(sink.encoder_total, encoder_scalar ? dencoder_lv : nullptr, sink.log_variance_total,
                  prior_scalar ? dprior_lv : nullptr);
}

// ---------------------------------------------------------------- joint phase: tilted_nll_term

// The CUB term functor: rows of every model are contiguous, so only the tilt depends on the model.
struct DeviceTiltedNll {
  const float* z;
  const float* inverse_temperature;
  const float* log_det;  // or null
  const float* weights;  // or null
  const float* taus;     // [M], or null for the single form's tau
  float tau;
  std::int64_t n;
  int d;
  __device__ double operator()(std::int64_t index) const {
    const float model_tau = taus ? taus[index / n] : tau;
    const TiltedNllRows<float> p{z, inverse_temperature, log_det, model_tau, d};
    const double term = prior_terms::tilted_nll_row(p, index);
    return weights ? double(weights[index]) * term : term;
  }
};

// One thread per row, the model as blockIdx.y.
__global__ void tilted_nll_backward_kernel(DeviceTiltedNll f, const float* dloss, float* dz, float* dlog_det) {
  const std::int64_t m = blockIdx.y, first_row = m * f.n;
  const TiltedNllRows<float> p{f.z + first_row * f.d, f.inverse_temperature + first_row, nullptr,
                               f.taus ? f.taus[m] : f.tau, f.d};
  const float g = dloss[m] / float(f.n);
  const float* w = f.weights ? f.weights + first_row : nullptr;
  float* dz_m = dz ? dz + first_row * f.d : nullptr;
  float* dlog_det_m = dlog_det ? dlog_det + first_row : nullptr;
  for (std::int64_t row = first_index(); row < f.n; row += grid_stride())
    prior_terms::tilted_nll_row_backward(p, row, row_gradient(g, w, row), dz_m ? dz_m + row * f.d : nullptr,
                                         dlog_det_m);
}

DeviceTiltedNll describe_tilted_nll(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature,
                                    float tau, const Tensor& taus, const Tensor& weights) {
  const bool stacked = z.rank() == 3;
  DeviceTiltedNll f;
  f.z = z.data<float>();
  f.inverse_temperature = inverse_temperature.data<float>();
  f.log_det = log_det.defined() ? log_det.data<float>() : nullptr;
  f.weights = weights.defined() ? weights.data<float>() : nullptr;
  f.taus = taus.defined() ? taus.data<float>() : nullptr;
  f.tau = tau;
  f.n = z.dim(stacked ? 1 : 0);
  f.d = static_cast<int>(z.dim(stacked ? 2 : 1));
  return f;
}

}  // namespace

void vamp_kl_term_forward_cuda(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const Tensor& means,
                               const Tensor& component_log_variance, const Tensor& mixture_logits,
                               const Tensor& weights, Tensor& loss) {
  const VampGeometry g = geometry_of(u, log_variance, means, component_log_variance);
  Tensor constants;
  const DeviceVampKl f = describe_vamp_kl(u, mean, log_variance, means, component_log_variance, mixture_logits,
                                          weights, g, constants);
  scaled_model_sums(f, g.models, g.n, 1.0 / double(g.n), loss.data<float>(), u.device().index);
}

void vamp_kl_term_backward_cuda(const Tensor& u, const Tensor& mean, const Tensor& log_variance, const Tensor& means,
                                const Tensor& component_log_variance, const Tensor& mixture_logits,
                                const Tensor& weights, const Tensor& dloss, Tensor& du, Tensor& dmean,
                                Tensor& dlog_variance, Tensor& dmeans, Tensor& dcomponent_log_variance,
                                Tensor& dmixture_logits) {
  const VampGeometry g = geometry_of(u, log_variance, means, component_log_variance);
  const VampBackwardLaunch launch = vamp_backward_launch(g.k_count, g.d, g.prior_scalar, g.models);
  Tensor constants;
  const DeviceVampKl f = describe_vamp_kl(u, mean, log_variance, means, component_log_variance, mixture_logits,
                                          weights, g, constants);
  const KlGradients grad{data_or_null_float(du),    data_or_null_float(dmean),
                         data_or_null_float(dlog_variance), data_or_null_float(dmeans),
                         data_or_null_float(dcomponent_log_variance), data_or_null_float(dmixture_logits)};
  vamp_kl_backward_kernel<<<grid_of(g.n, g.models, launch.max_blocks_per_model), cuda::kBlock, launch.shared_bytes,
                            cuda::current_stream(u.device().index)>>>(f, dloss.data<float>(), grad, launch.stage,
                                                                      g.prior_lv_model_stride);
  LATF_CUDA_CHECK_LAUNCH();
}

void tilted_nll_term_forward_cuda(const Tensor& z, const Tensor& log_det, const Tensor& inverse_temperature, float tau,
                                  const Tensor& taus, const Tensor& weights, Tensor& loss) {
  const DeviceTiltedNll f = describe_tilted_nll(z, log_det, inverse_temperature, tau, taus, weights);
  const std::int64_t models = z.rank() == 3 ? z.dim(0) : 1;
  scaled_model_sums(f, models, f.n, 1.0 / double(f.n), loss.data<float>(), z.device().index);
}

void tilted_nll_term_backward_cuda(const Tensor& z, const Tensor& inverse_temperature, float tau, const Tensor& taus,
                                   const Tensor& weights, const Tensor& dloss, Tensor& dz, Tensor& dlog_det) {
  const DeviceTiltedNll f = describe_tilted_nll(z, Tensor(), inverse_temperature, tau, taus, weights);
  const std::int64_t models = z.rank() == 3 ? z.dim(0) : 1;
  tilted_nll_backward_kernel<<<grid_of(f.n, models), cuda::kBlock, 0, cuda::current_stream(z.device().index)>>>(
      f, dloss.data<float>(), data_or_null_float(dz), data_or_null_float(dlog_det));
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
