#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/coupling.hpp"
#include "kernels/coupling_math.hpp"
#include "kernels/mlp_device.cuh"

namespace latf::kernels {

namespace {

// Shared-memory layout of both kernels: scale-net params | shift-net params | mask | a, then (backward
// only) the gradient accumulators in the same order.
struct SharedLayout {
  std::int64_t params, dim;
  __host__ __device__ std::int64_t scale() const { return 0; }
  __host__ __device__ std::int64_t shift() const { return params; }
  __host__ __device__ std::int64_t mask() const { return 2 * params; }
  __host__ __device__ std::int64_t a() const { return 2 * params + dim; }
  __host__ __device__ std::int64_t size() const { return 2 * params + 2 * dim; }
};

__device__ void load_shared(float* shared, const SharedLayout& l, const float* scale_params, const float* shift_params,
                            const float* mask, const float* a) {
  device::block_copy(shared + l.scale(), scale_params, l.params);
  device::block_copy(shared + l.shift(), shift_params, l.params);
  device::block_copy(shared + l.mask(), mask, l.dim);
  device::block_copy(shared + l.a(), a, l.dim);
}

// Model-stacked calls put the model on blockIdx.y (a block never straddles two models) and offset
// every per-model pointer by that model's stride; the mask is shared (no offset). Single form: M = 1.
__device__ __forceinline__ const float* model_offset(const float* p, std::int64_t stride) {
  return p == nullptr ? nullptr : p + blockIdx.y * stride;
}
__device__ __forceinline__ float* model_offset(float* p, std::int64_t stride) {
  return p == nullptr ? nullptr : p + blockIdx.y * stride;
}

template <int H>
__global__ void coupling_forward_kernel(const float* x, const float* mask, const float* scale_params,
                                        const float* shift_params, const float* a, CouplingSpec spec, float* y,
                                        float* log_det, std::int64_t n) {
  extern __shared__ float shared[];
  const MlpShape net = spec.net();
  x = model_offset(x, n * spec.dim);
  scale_params = model_offset(scale_params, net.size());
  shift_params = model_offset(shift_params, net.size());
  a = model_offset(a, spec.dim);
  y = model_offset(y, n * spec.dim);
  log_det = model_offset(log_det, n);
  const SharedLayout l{net.size(), spec.dim};
  load_shared(shared, l, scale_params, shift_params, mask, a);
  __syncthreads();
  const float* m = shared + l.mask();
  const float* av = shared + l.a();
  const bool generative = spec.direction == CouplingDirection::Generative;
  const int d = spec.dim;
  for (std::int64_t row = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; row < n;
       row += std::int64_t(gridDim.x) * blockDim.x) {
    float xr[kCouplingMaxDim], c[kCouplingMaxDim], s[kCouplingMaxDim], t[kCouplingMaxDim];
    for (int j = 0; j < d; ++j) {
      xr[j] = x[row * d + j];
      c[j] = xr[j] * m[j];
    }
    device::mlp_row_forward<H>(shared + l.scale(), net, spec.alpha, c, s);
    device::mlp_row_forward<H>(shared + l.shift(), net, spec.alpha, c, t);
    float total = 0.f;
    for (int j = 0; j < d; ++j) {
      const auto e = coupling_element<float>(xr[j], m[j], s[j], t[j], av[j], spec.scale_clamp, generative);
      y[row * d + j] = e.y;
      total += e.log_det;
    }
    log_det[row] = total;
  }
}

template <int H>
__global__ void coupling_backward_kernel(const float* x, const float* mask, const float* scale_params,
                                         const float* shift_params, const float* a, CouplingSpec spec, const float* dy,
                                         const float* dlog_det, float* dx, float* dscale_params, float* dshift_params,
                                         float* da, std::int64_t n) {
  extern __shared__ float shared[];
  const MlpShape net = spec.net();
  x = model_offset(x, n * spec.dim);
  scale_params = model_offset(scale_params, net.size());
  shift_params = model_offset(shift_params, net.size());
  a = model_offset(a, spec.dim);
  dy = model_offset(dy, n * spec.dim);
  dlog_det = model_offset(dlog_det, n);
  dx = model_offset(dx, n * spec.dim);
  dscale_params = model_offset(dscale_params, net.size());
  dshift_params = model_offset(dshift_params, net.size());
  da = model_offset(da, spec.dim);
  const SharedLayout l{net.size(), spec.dim};
  float* acc = shared + l.size();  // gradient accumulators, same layout
  load_shared(shared, l, scale_params, shift_params, mask, a);
  device::block_zero(acc, l.size());
  __syncthreads();
  const float* m = shared + l.mask();
  const float* av = shared + l.a();
  const bool generative = spec.direction == CouplingDirection::Generative;
  const int d = spec.dim;
  // All threads of a block iterate together (warp reductions need every lane); rows past the
  // end contribute zero gradients.
  for (std::int64_t base = blockIdx.x * std::int64_t(blockDim.x); base < n;
       base += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t row = base + threadIdx.x;
    const bool active = row < n;
    float xr[kCouplingMaxDim], c[kCouplingMaxDim], s[kCouplingMaxDim], t[kCouplingMaxDim];
    float gs[kCouplingMaxDim], gt[kCouplingMaxDim], gx[kCouplingMaxDim], gc[kCouplingMaxDim];
    for (int j = 0; j < d; ++j) {
      xr[j] = active ? x[row * d + j] : 0.f;
      c[j] = xr[j] * m[j];
      gc[j] = 0.f;
    }
    device::mlp_row_forward<H>(shared + l.scale(), net, spec.alpha, c, s);
    device::mlp_row_forward<H>(shared + l.shift(), net, spec.alpha, c, t);
    const float gl = active && dlog_det != nullptr ? dlog_det[row] : 0.f;
    for (int j = 0; j < d; ++j) {
      const float gyj = active && dy != nullptr ? dy[row * d + j] : 0.f;
      const auto g = coupling_element_backward<float>(xr[j], m[j], s[j], t[j], av[j], spec.scale_clamp, generative,
                                                      gyj, active ? gl : 0.f);
      gx[j] = g.x;
      gs[j] = g.s;
      gt[j] = g.t;
      device::warp_accumulate(&acc[l.a() + j], g.a);
    }
    device::mlp_row_backward<H>(shared + l.scale(), net, spec.alpha, c, gs, gc, acc + l.scale());
    device::mlp_row_backward<H>(shared + l.shift(), net, spec.alpha, c, gt, gc, acc + l.shift());
    if (active && dx != nullptr)
      for (int j = 0; j < d; ++j) dx[row * d + j] += gx[j] + m[j] * gc[j];
  }
  __syncthreads();
  if (dscale_params != nullptr) device::block_flush(dscale_params, acc + l.scale(), l.params);
  if (dshift_params != nullptr) device::block_flush(dshift_params, acc + l.shift(), l.params);
  if (da != nullptr) device::block_flush(da, acc + l.a(), l.dim);
}

template <class Kernel>
void allow_shared_memory(Kernel kernel, std::size_t bytes) {
  LATF_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

float* pointer_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

constexpr std::int64_t kMaxGridY = 65535;

// Grid of `blocks_per_model` blocks for each of the models.
dim3 model_grid(unsigned blocks_per_model, std::int64_t models) {
  LATF_REQUIRE(models <= kMaxGridY, "coupling on CUDA: at most ", kMaxGridY, " stacked models per call, got ",
               models);
  return dim3(blocks_per_model, static_cast<unsigned>(models));
}

std::int64_t rows_of(const Tensor& x) { return x.dim(x.rank() - 2); }

template <int H>
void forward_h(const Tensor& x, const Tensor& mask, const Tensor& sp, const Tensor& tp, const Tensor& a,
               const CouplingSpec& spec, Tensor& y, Tensor& log_det, std::int64_t models) {
  const std::int64_t n = rows_of(x);
  const std::size_t bytes = SharedLayout{spec.net().size(), spec.dim}.size() * sizeof(float);
  allow_shared_memory(coupling_forward_kernel<H>, bytes);
  const dim3 grid = model_grid(cuda::grid_for(n), models);
  coupling_forward_kernel<H><<<grid, cuda::kBlock, bytes, cuda::current_stream(x.device().index)>>>(
      x.data<float>(), mask.data<float>(), sp.data<float>(), tp.data<float>(), a.data<float>(), spec, y.data<float>(),
      log_det.data<float>(), n);
  LATF_CUDA_CHECK_LAUNCH();
}

template <int H>
void backward_h(const Tensor& x, const Tensor& mask, const Tensor& sp, const Tensor& tp, const Tensor& a,
                const CouplingSpec& spec, const Tensor& dy, const Tensor& dlog_det, Tensor& dx, Tensor& dsp,
                Tensor& dtp, Tensor& da, std::int64_t models) {
  const std::int64_t n = rows_of(x);
  const std::size_t bytes = 2 * SharedLayout{spec.net().size(), spec.dim}.size() * sizeof(float);
  allow_shared_memory(coupling_backward_kernel<H>, bytes);
  const dim3 grid = model_grid(std::min<unsigned>(cuda::grid_for(n), 132 * 4), models);
  coupling_backward_kernel<H><<<grid, cuda::kBlock, bytes, cuda::current_stream(x.device().index)>>>(
      x.data<float>(), mask.data<float>(), sp.data<float>(), tp.data<float>(), a.data<float>(), spec,
      pointer_or_null(dy), pointer_or_null(dlog_det), pointer_or_null(dx), pointer_or_null(dsp), pointer_or_null(dtp),
      pointer_or_null(da), n);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace

void coupling_forward_cuda(const Tensor& x, const Tensor& mask, const Tensor& scale_params, const Tensor& shift_params,
                           const Tensor& scale_vector, const CouplingSpec& spec, Tensor& y, Tensor& log_det,
                           std::int64_t models) {
  if (rows_of(x) == 0 || models == 0) return;
  switch (spec.hidden) {
    case 16: return forward_h<16>(x, mask, scale_params, shift_params, scale_vector, spec, y, log_det, models);
    case 32: return forward_h<32>(x, mask, scale_params, shift_params, scale_vector, spec, y, log_det, models);
    default: return forward_h<64>(x, mask, scale_params, shift_params, scale_vector, spec, y, log_det, models);
  }
}

void coupling_backward_cuda(const Tensor& x, const Tensor& mask, const Tensor& scale_params,
                            const Tensor& shift_params, const Tensor& scale_vector, const CouplingSpec& spec,
                            const Tensor& dy, const Tensor& dlog_det, Tensor& dx, Tensor& dscale_params,
                            Tensor& dshift_params, Tensor& dscale_vector, std::int64_t models) {
  if (rows_of(x) == 0 || models == 0) return;
  switch (spec.hidden) {
    case 16:
      return backward_h<16>(x, mask, scale_params, shift_params, scale_vector, spec, dy, dlog_det, dx, dscale_params,
                            dshift_params, dscale_vector, models);
    case 32:
      return backward_h<32>(x, mask, scale_params, shift_params, scale_vector, spec, dy, dlog_det, dx, dscale_params,
                            dshift_params, dscale_vector, models);
    default:
      return backward_h<64>(x, mask, scale_params, shift_params, scale_vector, spec, dy, dlog_det, dx, dscale_params,
                            dshift_params, dscale_vector, models);
  }
}

}  // namespace latf::kernels
