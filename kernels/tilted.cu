#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "kernels/tilted.hpp"
#include "kernels/tilted_math.hpp"

namespace latf::kernels {

namespace {

// One thread per row (d is small: the latent dimension), grid-stride over rows. Stacked models:
// the model is blockIdx.y, n rows per model, and its tilt is taus[m] read on the device (taus null
// in the single form: the scalar tau, gridDim.y = 1).
__device__ float model_tau(const float* taus, float tau) { return taus ? taus[blockIdx.y] : tau; }

__global__ void tilted_forward_kernel(const float* z, const float* b, const float* c, float tau, const float* taus,
                                      float* out, std::int64_t n, int d) {
  const std::int64_t m = blockIdx.y;
  z += m * n * d;
  b += m * n;
  if (c) c += m * n;
  out += m * n;
  tau = model_tau(taus, tau);
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    out[i] = tilted::log_density(z + i * d, d, tau, b[i], c ? c[i] : 0.f);
}

__global__ void tilted_backward_kernel(const float* z, const float* b, float tau, const float* taus,
                                       const float* dout, float* dz, std::int64_t n, int d) {
  const std::int64_t m = blockIdx.y;
  z += m * n * d;
  b += m * n;
  dout += m * n;
  dz += m * n * d;
  tau = model_tau(taus, tau);
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    tilted::log_density_backward(z + i * d, d, tau, b[i], dout[i], dz + i * d);
}

// failed[0] counts rows whose sampler gave up; it is a float because device tensors are float32.
__global__ void tilted_sample_kernel(float* z, std::int64_t n, int d, double tau, double reduced_temperature,
                                     std::uint64_t seed, std::uint64_t stream, std::uint64_t first_row,
                                     float* failed) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n;
       i += std::int64_t(gridDim.x) * blockDim.x)
    if (!tilted::sample_row(z + i * d, d, tau, reduced_temperature, seed, stream,
                            first_row + static_cast<std::uint64_t>(i)))
      atomicAdd(failed, 1.f);
}

}  // namespace

// The grid of either form: rows per model in x, models (1 single) in y.
struct RowGrid {
  std::int64_t models, n;
  int d;
};

RowGrid row_grid(const Tensor& z) {
  const bool stacked = z.rank() == 3;
  return {stacked ? z.dim(0) : 1, z.dim(stacked ? 1 : 0), static_cast<int>(z.dim(stacked ? 2 : 1))};
}

void tilted_log_density_forward_cuda(const Tensor& z, const Tensor& inverse_temperature, const Tensor& log_normalizer,
                                     float tau, const Tensor& taus, Tensor& out) {
  const RowGrid g = row_grid(z);
  if (g.n == 0 || g.models == 0) return;
  const dim3 grid(cuda::grid_for(g.n), static_cast<unsigned>(g.models));
  tilted_forward_kernel<<<grid, cuda::kBlock, 0, cuda::current_stream(z.device().index)>>>(
      z.data<float>(), inverse_temperature.data<float>(), data_or_null<float>(log_normalizer), tau,
      data_or_null<float>(taus), out.data<float>(), g.n, g.d);
  LATF_CUDA_CHECK_LAUNCH();
}

void tilted_log_density_backward_cuda(const Tensor& z, const Tensor& inverse_temperature, float tau,
                                      const Tensor& taus, const Tensor& dout, Tensor& dz) {
  const RowGrid g = row_grid(z);
  if (g.n == 0 || g.models == 0) return;
  const dim3 grid(cuda::grid_for(g.n), static_cast<unsigned>(g.models));
  tilted_backward_kernel<<<grid, cuda::kBlock, 0, cuda::current_stream(z.device().index)>>>(
      z.data<float>(), inverse_temperature.data<float>(), tau, data_or_null<float>(taus), dout.data<float>(),
      dz.data<float>(), g.n, g.d);
  LATF_CUDA_CHECK_LAUNCH();
}

std::int64_t tilted_sample_cuda(Tensor& z, double tau, double reduced_temperature, std::uint64_t seed,
                                std::uint64_t stream) {
  const std::int64_t n = z.dim(0);
  if (n == 0) return 0;
  const int d = static_cast<int>(z.dim(1));
  Tensor failed = Tensor::zeros({1}, z.device());
  tilted_sample_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, cuda::current_stream(z.device().index)>>>(
      z.data<float>(), n, d, tau, reduced_temperature, seed, stream, 0, failed.data<float>());
  LATF_CUDA_CHECK_LAUNCH();
  // The copy back is ordered after the kernel on the device's stream.
  return static_cast<std::int64_t>(failed.item());
}

void tilted_sample_rows_cuda(Tensor& z, double tau, double reduced_temperature, std::uint64_t seed,
                             std::uint64_t stream, std::uint64_t first_row, Tensor& failed) {
  const std::int64_t n = z.dim(0);
  if (n == 0) return;
  const int d = static_cast<int>(z.dim(1));
  tilted_sample_kernel<<<cuda::grid_for(n), cuda::kBlock, 0, cuda::current_stream(z.device().index)>>>(
      z.data<float>(), n, d, tau, reduced_temperature, seed, stream, first_row, failed.data<float>());
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf::kernels
