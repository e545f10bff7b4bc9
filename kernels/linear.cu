#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/cublas_handle.cuh"
#include "kernels/linear.hpp"

namespace latf::kernels {

namespace {

// One block stages W and b in shared memory; each thread computes outputs (row, o) of a
// grid-stride range. Widths ≤ 64 keep W within 16 KiB.
__global__ void linear_fused_kernel(const float* x, const float* w, const float* b, float* y, std::int64_t n,
                                    int in, int out, Activation act, float alpha) {
  __shared__ float ws[kFusedLinearMaxWidth * kFusedLinearMaxWidth];
  __shared__ float bs[kFusedLinearMaxWidth];
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
  const std::int64_t total = n * out;
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < total;
       k += std::int64_t(gridDim.x) * blockDim.x)
    y[k] = activate(y[k] + b[k % out], act, alpha);
}

__global__ void slope_kernel(const float* y, const float* dy, float* dpre, std::int64_t total, Activation act,
                             float alpha) {
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < total;
       k += std::int64_t(gridDim.x) * blockDim.x)
    dpre[k] = dy[k] * activation_slope(y[k], act, alpha);
}

// Column sums of dpre [n, out] added to dbias: one block per column, tree reduction.
__global__ void column_sum_kernel(const float* dpre, float* dbias, std::int64_t n, int out) {
  __shared__ float partial[cuda::kBlock];
  const int o = blockIdx.x;
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

}  // namespace

void linear_forward_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act, float alpha,
                         Tensor& y, LinearPath path) {
  const std::int64_t n = x.dim(0);
  const int in = static_cast<int>(x.dim(1)), out = static_cast<int>(weight.dim(0));
  const int device = x.device().index;
  if (n == 0) return;
  const bool small = in <= kFusedLinearMaxWidth && out <= kFusedLinearMaxWidth;
  LATF_REQUIRE(path != LinearPath::Fused || small, "linear fused CUDA path: widths in=", in, ", out=", out,
               " exceed ", kFusedLinearMaxWidth, "; use LinearPath::Cublas or Auto");
  cudaStream_t stream = cuda::current_stream(device);
  if (path == LinearPath::Fused || (path == LinearPath::Auto && small)) {
    linear_fused_kernel<<<cuda::grid_for(n * out), cuda::kBlock, 0, stream>>>(
        x.data<float>(), weight.data<float>(), bias.data<float>(), y.data<float>(), n, in, out, act, alpha);
    LATF_CUDA_CHECK_LAUNCH();
    return;
  }
  // Row-major Y[n,out] is column-major Yᵀ[out,n] = W · Xᵀ.
  const float one = 1.f, zero = 0.f;
  LATF_CUBLAS_CHECK(cublasSgemm(cuda::cublas_handle(device), CUBLAS_OP_T, CUBLAS_OP_N, out, static_cast<int>(n), in,
                                &one, weight.data<float>(), in, x.data<float>(), in, &zero, y.data<float>(), out));
  bias_activation_kernel<<<cuda::grid_for(n * out), cuda::kBlock, 0, stream>>>(y.data<float>(), bias.data<float>(),
                                                                               n, out, act, alpha);
  LATF_CUDA_CHECK_LAUNCH();
}

void linear_backward_cuda(const Tensor& x, const Tensor& weight, const Tensor& y, const Tensor& dy,
                          Activation act, float alpha, Tensor& dx, Tensor& dweight, Tensor& dbias) {
  const std::int64_t n = x.dim(0);
  const int in = static_cast<int>(x.dim(1)), out = static_cast<int>(weight.dim(0));
  const int device = x.device().index;
  if (n == 0) return;
  cudaStream_t stream = cuda::current_stream(device);
  Tensor dpre = Tensor::empty(y.shape(), y.device());
  slope_kernel<<<cuda::grid_for(n * out), cuda::kBlock, 0, stream>>>(y.data<float>(), dy.data<float>(),
                                                                     dpre.data<float>(), n * out, act, alpha);
  LATF_CUDA_CHECK_LAUNCH();
  const float one = 1.f;
  cublasHandle_t handle = cuda::cublas_handle(device);
  if (dx.defined())  // dXᵀ[in,n] += Wᵀ · dpreᵀ
    LATF_CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, in, static_cast<int>(n), out, &one,
                                  weight.data<float>(), in, dpre.data<float>(), out, &one, dx.data<float>(), in));
  if (dweight.defined())  // dWᵀ[in,out] += Xᵀ · dpre
    LATF_CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_T, in, out, static_cast<int>(n), &one,
                                  x.data<float>(), in, dpre.data<float>(), out, &one, dweight.data<float>(), in));
  if (dbias.defined()) {
    column_sum_kernel<<<out, cuda::kBlock, 0, stream>>>(dpre.data<float>(), dbias.data<float>(), n, out);
    LATF_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace latf::kernels
