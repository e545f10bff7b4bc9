#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/mlp_device.cuh"

namespace latf::kernels {

namespace {

// Model-stacked calls put the model on blockIdx.y (a block never straddles two models) and offset
// every per-model pointer by that model's stride; the single form is M = 1. The packed and the
// separate form differ only in the operand pointers and strides (MlpOperands): each block loads
// its model's operands into shared memory in the packed layout.

template <int H>
__global__ void mlp_forward_kernel(const float* x, MlpOperands<const float> params, MlpShape s, float alpha,
                                   float* y, std::int64_t n) {
  extern __shared__ float shared_params[];
  const std::int64_t m = blockIdx.y;
  x += m * n * s.in;
  y += m * n * s.out;
  device::block_load_operands(shared_params, params.model(m), s);
  __syncthreads();
  for (std::int64_t row = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; row < n;
       row += std::int64_t(gridDim.x) * blockDim.x) {
    float xr[kMlpMaxFusedEnds], yr[kMlpMaxFusedEnds];
    for (int j = 0; j < s.in; ++j) xr[j] = x[row * s.in + j];
    device::mlp_row_forward<H>(shared_params, s, alpha, xr, yr);
    for (int k = 0; k < s.out; ++k) y[row * s.out + k] = yr[k];
  }
}

template <int H>
__global__ void mlp_backward_kernel(const float* x, MlpOperands<const float> params, MlpShape s, float alpha,
                                    const float* dy, float* dx, MlpOperands<float> grads, std::int64_t n) {
  extern __shared__ float shared[];
  const std::int64_t m = blockIdx.y;
  x += m * n * s.in;
  dy += m * n * s.out;
  if (dx != nullptr) dx += m * n * s.in;
  float* p = shared;
  float* grad_acc = shared + s.size();
  device::block_load_operands(p, params.model(m), s);
  device::block_zero(grad_acc, s.size());
  __syncthreads();
  // Every thread of the block runs the same number of iterations: the warp reductions inside
  // mlp_row_backward need all lanes, so rows past the end take part with zero gradients.
  for (std::int64_t base = blockIdx.x * std::int64_t(blockDim.x); base < n;
       base += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t row = base + threadIdx.x;
    const bool active = row < n;
    float xr[kMlpMaxFusedEnds], dyr[kMlpMaxFusedEnds], dxr[kMlpMaxFusedEnds];
    for (int j = 0; j < s.in; ++j) {
      xr[j] = active ? x[row * s.in + j] : 0.f;
      dxr[j] = 0.f;
    }
    for (int k = 0; k < s.out; ++k) dyr[k] = active ? dy[row * s.out + k] : 0.f;
    device::mlp_row_backward<H>(p, s, alpha, xr, dyr, dxr, grad_acc);
    if (active && dx != nullptr)
      for (int j = 0; j < s.in; ++j) dx[row * s.in + j] += dxr[j];
  }
  __syncthreads();
  device::block_flush_operands(grads.model(m), grad_acc, s);
}

template <class Kernel>
void allow_shared_memory(Kernel kernel, std::size_t bytes) {
  LATF_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

// Fewer, fuller blocks for backward: each block flushes its weight-gradient partials once.
unsigned backward_grid(std::int64_t n) { return std::min<unsigned>(cuda::grid_for(n), 132 * 4); }

constexpr std::int64_t kMaxGridY = 65535;

// Grid of `blocks_per_model` blocks for each of the models.
dim3 model_grid(unsigned blocks_per_model, std::int64_t models) {
  LATF_REQUIRE(models <= kMaxGridY, "mlp on CUDA: at most ", kMaxGridY, " stacked models per call, got ", models);
  return dim3(blocks_per_model, static_cast<unsigned>(models));
}

std::int64_t rows_of(const Tensor& x) { return x.dim(x.rank() - 2); }

template <int H>
void forward_h(const Tensor& x, const MlpOperands<const float>& params, const MlpShape& s, float alpha, Tensor& y,
               std::int64_t models) {
  const std::int64_t n = rows_of(x);
  const std::size_t bytes = s.size() * sizeof(float);
  allow_shared_memory(mlp_forward_kernel<H>, bytes);
  const dim3 grid = model_grid(cuda::grid_for(n), models);
  mlp_forward_kernel<H><<<grid, cuda::kBlock, bytes, cuda::current_stream(x.device().index)>>>(
      x.data<float>(), params, s, alpha, y.data<float>(), n);
  LATF_CUDA_CHECK_LAUNCH();
}

template <int H>
void backward_h(const Tensor& x, const MlpOperands<const float>& params, const MlpShape& s, float alpha,
                const Tensor& dy, Tensor& dx, const MlpOperands<float>& grads, std::int64_t models) {
  const std::int64_t n = rows_of(x);
  const std::size_t bytes = 2 * s.size() * sizeof(float);
  allow_shared_memory(mlp_backward_kernel<H>, bytes);
  const dim3 grid = model_grid(backward_grid(n), models);
  mlp_backward_kernel<H><<<grid, cuda::kBlock, bytes, cuda::current_stream(x.device().index)>>>(
      x.data<float>(), params, s, alpha, dy.data<float>(), dx.defined() ? dx.data<float>() : nullptr, grads, n);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace

void mlp_forward_cuda(const Tensor& x, const MlpOperands<const float>& params, const MlpShape& shape, float alpha,
                      Tensor& y, std::int64_t models) {
  if (rows_of(x) == 0 || models == 0) return;
  switch (shape.hidden) {
    case 16: return forward_h<16>(x, params, shape, alpha, y, models);
    case 32: return forward_h<32>(x, params, shape, alpha, y, models);
    default: return forward_h<64>(x, params, shape, alpha, y, models);
  }
}

void mlp_backward_cuda(const Tensor& x, const MlpOperands<const float>& params, const MlpShape& shape, float alpha,
                       const Tensor& dy, Tensor& dx, const MlpOperands<float>& grads, std::int64_t models) {
  if (rows_of(x) == 0 || models == 0) return;
  switch (shape.hidden) {
    case 16: return backward_h<16>(x, params, shape, alpha, dy, dx, grads, models);
    case 32: return backward_h<32>(x, params, shape, alpha, dy, dx, grads, models);
    default: return backward_h<64>(x, params, shape, alpha, dy, dx, grads, models);
  }
}

}  // namespace latf::kernels
