// CUDA implementation of the fused coupling stack: one thread per row running the row functions
// of coupling_stack_math.hpp, the model on blockIdx.y. When they fit, the block stages its model's
// parameters in shared memory in the compact single-model layout (and, backward, accumulates
// parameter gradients there, flushed to global memory once per block); otherwise the row
// functions read the global buffer in place and gradients go to global memory directly. Either
// way every gradient is first summed over the warp with shuffles, then added atomically.
#include <utility>

#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/coupling_stack.hpp"
#include "kernels/coupling_stack_math.hpp"

namespace latf::kernels {

namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr std::int64_t kMaxGridY = 65535;

// Parameter gradients of one warp's rows: each call sums the 32 lanes' values (lanes of rows past
// the end contribute 0) and lane 0 adds the sum to target[index] (shared or global memory). All
// lanes of the warp must make the same calls in the same order, which the row functions ensure.
struct WarpAccumulator {
  float* target;  // null: parameter gradients not needed (uniform over the grid)
  bool active;
  __host__ __device__ void operator()(std::int64_t index, float value) const {
#if defined(__CUDA_ARCH__)
    if (target == nullptr) return;
    float sum = active ? value : 0.f;
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(kFullMask, sum, offset);
    if ((threadIdx.x & 31) == 0) atomicAdd(target + index, sum);
#else
    (void)index;
    (void)value;
#endif
  }
};

// Copies one model's parameters (layout `from`) to the compact layout `to`, block-cooperatively.
__device__ void stage_params(float* dst, const CouplingStackLayout& to, const float* src,
                             const CouplingStackLayout& from, int layers) {
  for (int l = 0; l < layers; ++l) {
    for (std::int64_t i = threadIdx.x; i < to.size; i += blockDim.x) {
      dst[to.scale(l) + i] = src[from.scale(l) + i];
      dst[to.shift(l) + i] = src[from.shift(l) + i];
    }
    for (std::int64_t i = threadIdx.x; i < to.dim; i += blockDim.x) dst[to.a(l) + i] = src[from.a(l) + i];
  }
}

// Adds the compact-layout accumulators `src` (layout `from`) to the global gradient (layout `to`).
__device__ void flush_gradients(float* dst, const CouplingStackLayout& to, const float* src,
                                const CouplingStackLayout& from, int layers) {
  for (int l = 0; l < layers; ++l) {
    for (std::int64_t i = threadIdx.x; i < from.size; i += blockDim.x) {
      atomicAdd(&dst[to.scale(l) + i], src[from.scale(l) + i]);
      atomicAdd(&dst[to.shift(l) + i], src[from.shift(l) + i]);
    }
    for (std::int64_t i = threadIdx.x; i < from.dim; i += blockDim.x) atomicAdd(&dst[to.a(l) + i], src[from.a(l) + i]);
  }
}

__device__ void block_fill(float* dst, const float* src, std::int64_t n) {
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src == nullptr ? 0.f : src[i];
}

// Shared memory: masks [L·d] | (staged) parameters, compact | (staged backward) gradient accumulators.
template <int H>
__global__ void coupling_stack_forward_kernel(const float* x, const float* masks, const float* params, CouplingSpec spec,
                                              int layers, std::int64_t models, bool staged, float* y, float* log_det,
                                              std::int64_t n) {
  extern __shared__ float shared[];
  const int d = spec.dim;
  const std::int64_t model = blockIdx.y;
  const CouplingStackLayout global = coupling_stack_layout(spec, models, model);
  const CouplingStackLayout compact = coupling_stack_layout(spec, 1, 0);
  float* shared_masks = shared;
  float* shared_params = shared + layers * d;
  block_fill(shared_masks, masks, std::int64_t(layers) * d);
  if (staged) stage_params(shared_params, compact, params, global, layers);
  __syncthreads();
  const float* p = staged ? shared_params : params;
  const CouplingStackLayout lay = staged ? compact : global;
  x += model * n * d;
  y += model * n * d;
  log_det += model * n;
  for (std::int64_t row = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; row < n;
       row += std::int64_t(gridDim.x) * blockDim.x) {
    float r[kCouplingMaxDim];
    for (int j = 0; j < d; ++j) r[j] = x[row * d + j];
    log_det[row] = coupling_stack_row_forward<float, H>(p, lay, shared_masks, spec, layers, r);
    for (int j = 0; j < d; ++j) y[row * d + j] = r[j];
  }
}

template <int H>
__global__ void coupling_stack_backward_kernel(const float* x, const float* masks, const float* params,
                                               CouplingSpec spec, int layers, std::int64_t models, bool staged,
                                               const float* dy, const float* dlog_det, float* dx, float* dparams,
                                               std::int64_t n) {
  extern __shared__ float shared[];
  const int d = spec.dim;
  const std::int64_t model = blockIdx.y;
  const CouplingStackLayout global = coupling_stack_layout(spec, models, model);
  const CouplingStackLayout compact = coupling_stack_layout(spec, 1, 0);
  const std::int64_t compact_size = std::int64_t(layers) * (2 * compact.size + d);
  float* shared_masks = shared;
  float* shared_params = shared + layers * d;
  float* shared_grads = shared_params + compact_size;
  block_fill(shared_masks, masks, std::int64_t(layers) * d);
  if (staged) {
    stage_params(shared_params, compact, params, global, layers);
    if (dparams != nullptr) block_fill(shared_grads, nullptr, compact_size);
  }
  __syncthreads();
  const float* p = staged ? shared_params : params;
  const CouplingStackLayout lay = staged ? compact : global;
  float* grad_target = dparams == nullptr ? nullptr : staged ? shared_grads : dparams;
  x += model * n * d;
  if (dy != nullptr) dy += model * n * d;
  if (dlog_det != nullptr) dlog_det += model * n;
  if (dx != nullptr) dx += model * n * d;
  // Every thread of the block iterates together (warp shuffles need all lanes); rows past the end
  // compute on zeros and their lanes contribute nothing.
  for (std::int64_t base = blockIdx.x * std::int64_t(blockDim.x); base < n;
       base += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t row = base + threadIdx.x;
    const bool active = row < n;
    float xr[kCouplingMaxDim], g[kCouplingMaxDim];
    for (int j = 0; j < d; ++j) {
      xr[j] = active ? x[row * d + j] : 0.f;
      g[j] = active && dy != nullptr ? dy[row * d + j] : 0.f;
    }
    const float gl = active && dlog_det != nullptr ? dlog_det[row] : 0.f;
    const WarpAccumulator acc{grad_target, active};
    coupling_stack_row_backward<float, H>(p, lay, shared_masks, spec, layers, xr, g, gl, acc);
    if (active && dx != nullptr)
      for (int j = 0; j < d; ++j) dx[row * d + j] += g[j];
  }
  if (staged && dparams != nullptr) {
    __syncthreads();
    flush_gradients(dparams, global, shared_grads, compact, layers);
  }
}

float* pointer_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

dim3 model_grid(unsigned blocks_per_model, std::int64_t models) {
  LATF_REQUIRE(models <= kMaxGridY, "coupling_stack on CUDA: at most ", kMaxGridY, " stacked models per call, got ",
               models);
  return dim3(blocks_per_model, static_cast<unsigned>(models));
}

// Shared memory a block may use on x's device (with the opt-in above the default 48 KiB).
std::size_t shared_memory_limit(const Tensor& x) {
  int bytes = 0;
  LATF_CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, x.device().index));
  return static_cast<std::size_t>(bytes);
}

// Bytes of dynamic shared memory and whether the parameters are staged: masks always; the
// parameters (and `copies` − 1 accumulator copies) when they fit.
std::pair<std::size_t, bool> shared_plan(const Tensor& x, const CouplingSpec& spec, int layers, int copies) {
  const std::size_t masks = std::size_t(layers) * spec.dim * sizeof(float);
  const std::size_t staged = masks + copies * coupling_stack_params_size(spec, layers) * sizeof(float);
  if (staged <= shared_memory_limit(x)) return {staged, true};
  return {masks, false};
}

template <class Kernel>
void allow_shared_memory(Kernel kernel, std::size_t bytes) {
  LATF_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

template <int H>
void forward_h(const Tensor& x, const Tensor& masks, const Tensor& params, const CouplingSpec& spec, int layers,
               std::int64_t models, std::int64_t n, Tensor& y, Tensor& log_det) {
  const auto [bytes, staged] = shared_plan(x, spec, layers, 1);
  allow_shared_memory(coupling_stack_forward_kernel<H>, bytes);
  coupling_stack_forward_kernel<H><<<model_grid(cuda::grid_for(n), models), cuda::kBlock, bytes,
                                     cuda::current_stream(x.device().index)>>>(
      x.data<float>(), masks.data<float>(), params.data<float>(), spec, layers, models, staged, y.data<float>(),
      log_det.data<float>(), n);
  LATF_CUDA_CHECK_LAUNCH();
}

template <int H>
void backward_h(const Tensor& x, const Tensor& masks, const Tensor& params, const CouplingSpec& spec, int layers,
                std::int64_t models, std::int64_t n, const Tensor& dy, const Tensor& dlog_det, Tensor& dx,
                Tensor& dparams) {
  const auto [bytes, staged] = shared_plan(x, spec, layers, dparams.defined() ? 2 : 1);
  allow_shared_memory(coupling_stack_backward_kernel<H>, bytes);
  // Fewer blocks than rows allow: each block flushes its whole accumulator once.
  const unsigned grid = std::min<unsigned>(cuda::grid_for(n), 132 * 4);
  coupling_stack_backward_kernel<H><<<model_grid(grid, models), cuda::kBlock, bytes,
                                      cuda::current_stream(x.device().index)>>>(
      x.data<float>(), masks.data<float>(), params.data<float>(), spec, layers, models, staged, pointer_or_null(dy),
      pointer_or_null(dlog_det), pointer_or_null(dx), pointer_or_null(dparams), n);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace

void coupling_stack_forward_cuda(const Tensor& x, const Tensor& masks, const Tensor& flow_params,
                                 const CouplingSpec& spec, int layers, std::int64_t models, std::int64_t n, Tensor& y,
                                 Tensor& log_det) {
  if (n == 0 || models == 0) return;
  switch (spec.hidden) {
    case 16: return forward_h<16>(x, masks, flow_params, spec, layers, models, n, y, log_det);
    case 32: return forward_h<32>(x, masks, flow_params, spec, layers, models, n, y, log_det);
    default: return forward_h<64>(x, masks, flow_params, spec, layers, models, n, y, log_det);
  }
}

void coupling_stack_backward_cuda(const Tensor& x, const Tensor& masks, const Tensor& flow_params,
                                  const CouplingSpec& spec, int layers, std::int64_t models, std::int64_t n,
                                  const Tensor& dy, const Tensor& dlog_det, Tensor& dx, Tensor& dflow_params) {
  if (n == 0 || models == 0) return;
  switch (spec.hidden) {
    case 16:
      return backward_h<16>(x, masks, flow_params, spec, layers, models, n, dy, dlog_det, dx, dflow_params);
    case 32:
      return backward_h<32>(x, masks, flow_params, spec, layers, models, n, dy, dlog_det, dx, dflow_params);
    default:
      return backward_h<64>(x, masks, flow_params, spec, layers, models, n, dy, dlog_det, dx, dflow_params);
  }
}

}  // namespace latf::kernels
