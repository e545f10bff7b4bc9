#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/cublas_handle.cuh"
#include "kernels/linear.hpp"

namespace latf::kernels {

namespace {

// Model-stacked calls put the model on blockIdx.y, so a block never straddles two models; each
// kernel offsets its per-model pointers by the model's stride (the single form is M = 1).

// One block stages model m's W and b in shared memory; each thread computes outputs (row, o) of
// a grid-stride range of that model. Widths ≤ 64 keep W within 16 KiB.
__global__ void linear_fused_kernel(const float* x, const float* w, const float* b, float* y, std::int64_t n,
                                    int in, int out, Activation act, float alpha) {
  __shared__ float ws[kFusedLinearMaxWidth * kFusedLinearMaxWidth];
  __shared__ float bs[kFusedLinearMaxWidth];
  const std::int64_t m = blockIdx.y;
  x += m * n * in;
  w += m * in * out;
  b += m * out;
  y += m * n * out;
  for (int i = threadIdx.x; i < in * out; i += blockDim.x) ws[i] = w[i];
  for (int i = threadIdx.x; i < out; i += blockDim.x) bs[i] = b[i];
  __syncthreads();
  const std::int64_t total = n * out;
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < total;
       k += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t row = k / out;
    const int o = static_cast<int>(k % out);
    const float* xr = x + row * in;
    float acc = bs[o];
    for (int i = 0; i < in; ++i) acc = fmaf(xr[i], ws[o * in + i], acc);
    y[k] = activate(acc, act, alpha);
  }
}

__global__ void bias_activation_kernel(float* y, const float* b, std::int64_t n, int out, Activation act,
                                       float alpha) {
  const std::int64_t m = blockIdx.y;
  y += m * n * out;
  b += m * out;
  const std::int64_t total = n * out;
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < total;
       k += std::int64_t(gridDim.x) * blockDim.x)
    y[k] = activate(y[k] + b[k % out], act, alpha);
}

// Elementwise over all models at once (no per-model operand).
__global__ void slope_kernel(const float* y, const float* dy, float* dpre, std::int64_t total, Activation act,
                             float alpha) {
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < total;
       k += std::int64_t(gridDim.x) * blockDim.x)
    dpre[k] = dy[k] * activation_slope(y[k], act, alpha);
}

// Column sums of model m's dpre [n, out] added to its dbias: one block per (column, model), tree
// reduction.
__global__ void column_sum_kernel(const float* dpre, float* dbias, std::int64_t n, int out) {
  __shared__ float partial[cuda::kBlock];
  const int o = blockIdx.x;
  const std::int64_t m = blockIdx.y;
  dpre += m * n * out;
  dbias += m * out;
  float acc = 0.f;
  for (std::int64_t row = threadIdx.x; row < n; row += blockDim.x) acc += dpre[row * out + o];
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) dbias[o] += partial[0];
}

constexpr std::int64_t kMaxGridY = 65535;

void check_models(std::int64_t models) {
  LATF_REQUIRE(models <= kMaxGridY, "linear on CUDA: at most ", kMaxGridY, " stacked models per call, got ", models);
}

}  // namespace

void linear_forward_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act, float alpha,
                         Tensor& y, LinearPath path, std::int64_t models) {
  const std::int64_t n = x.dim(x.rank() - 2);
  const int in = static_cast<int>(x.dim(x.rank() - 1)), out = static_cast<int>(weight.dim(weight.rank() - 2));
  const int device = x.device().index;
  if (n == 0 || models == 0) return;
  check_models(models);
  const bool small = in <= kFusedLinearMaxWidth && out <= kFusedLinearMaxWidth;
  LATF_REQUIRE(path != LinearPath::Fused || small, "linear fused CUDA path: widths in=", in, ", out=", out,
               " exceed ", kFusedLinearMaxWidth, "; use LinearPath::Cublas or Auto");
  cudaStream_t stream = cuda::current_stream(device);
  const dim3 grid(cuda::grid_for(n * out), static_cast<unsigned>(models));
  if (path == LinearPath::Fused || (path == LinearPath::Auto && small)) {
    linear_fused_kernel<<<grid, cuda::kBlock, 0, stream>>>(x.data<float>(), weight.data<float>(), bias.data<float>(),
                                                           y.data<float>(), n, in, out, act, alpha);
    LATF_CUDA_CHECK_LAUNCH();
    return;
  }
  // Row-major Y_m[n,out] is column-major Y_mᵀ[out,n] = W_m · X_mᵀ, one batch entry per model.
  const float one = 1.f, zero = 0.f;
  LATF_CUBLAS_CHECK(cublasSgemmStridedBatched(cuda::cublas_handle(device), CUBLAS_OP_T, CUBLAS_OP_N, out,
                                              static_cast<int>(n), in, &one, weight.data<float>(), in,
                                              static_cast<long long>(out) * in, x.data<float>(), in,
                                              static_cast<long long>(n) * in, &zero, y.data<float>(), out,
                                              static_cast<long long>(n) * out, static_cast<int>(models)));
  bias_activation_kernel<<<grid, cuda::kBlock, 0, stream>>>(y.data<float>(), bias.data<float>(), n, out, act, alpha);
  LATF_CUDA_CHECK_LAUNCH();
}

void linear_backward_cuda(const Tensor& x, const Tensor& weight, const Tensor& y, const Tensor& dy,
                          Activation act, float alpha, Tensor& dx, Tensor& dweight, Tensor& dbias,
                          std::int64_t models) {
  const std::int64_t n = x.dim(x.rank() - 2);
  const int in = static_cast<int>(x.dim(x.rank() - 1)), out = static_cast<int>(weight.dim(weight.rank() - 2));
  const int device = x.device().index;
  if (n == 0 || models == 0) return;
  check_models(models);
  cudaStream_t stream = cuda::current_stream(device);
  Tensor dpre = Tensor::empty(y.shape(), y.device());
  const std::int64_t total = models * n * out;
  slope_kernel<<<cuda::grid_for(total), cuda::kBlock, 0, stream>>>(y.data<float>(), dy.data<float>(),
                                                                   dpre.data<float>(), total, act, alpha);
  LATF_CUDA_CHECK_LAUNCH();
  const float one = 1.f;
  const int batch = static_cast<int>(models);
  const long long x_stride = static_cast<long long>(n) * in, w_stride = static_cast<long long>(out) * in,
                  y_stride = static_cast<long long>(n) * out;
  cublasHandle_t handle = cuda::cublas_handle(device);
  if (dx.defined())  // dX_mᵀ[in,n] += W_mᵀ · dpre_mᵀ
    LATF_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_N, in, static_cast<int>(n), out, &one,
                                                weight.data<float>(), in, w_stride, dpre.data<float>(), out, y_stride,
                                                &one, dx.data<float>(), in, x_stride, batch));
  if (dweight.defined())  // dW_mᵀ[in,out] += X_mᵀ · dpre_m
    LATF_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, CUBLAS_OP_N, CUBLAS_OP_T, in, out, static_cast<int>(n), &one,
                                                x.data<float>(), in, x_stride, dpre.data<float>(), out, y_stride, &one,
                                                dweight.data<float>(), in, w_stride, batch));
  if (dbias.defined()) {
    column_sum_kernel<<<dim3(out, static_cast<unsigned>(models)), cuda::kBlock, 0, stream>>>(
        dpre.data<float>(), dbias.data<float>(), n, out);
    LATF_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace latf::kernels
