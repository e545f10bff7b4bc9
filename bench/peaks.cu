#include <cuda_runtime.h>

#include <algorithm>

#include "bench/peaks.hpp"
#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "engine/tensor.hpp"

namespace latf::bench {

namespace {

constexpr int kFmaIterations = 4096;

// Four independent FMA chains per thread, no memory traffic but one store at the end.
__global__ void fma_kernel(float* out, float scale, float shift) {
  float a = threadIdx.x * 1e-3f, b = a + 1.f, c = a + 2.f, d = a + 3.f;
  for (int i = 0; i < kFmaIterations; ++i) {
    a = fmaf(a, scale, shift);
    b = fmaf(b, scale, shift);
    c = fmaf(c, scale, shift);
    d = fmaf(d, scale, shift);
  }
  out[blockIdx.x * blockDim.x + threadIdx.x] = a + b + c + d;
}

}  // namespace

Peaks measure_cuda_peaks(int device_index) {
  LATF_CUDA_CHECK(cudaSetDevice(device_index));
  cudaStream_t stream = cuda::current_stream(device_index);
  int sms = 0;
  LATF_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device_index));
  const int blocks = sms * 16, threads = 256;
  const Device device = Device::cuda(device_index);
  Tensor out = Tensor::empty({std::int64_t{blocks} * threads}, device);
  const std::int64_t floats = std::int64_t{1} << 28;  // 1 GiB each way
  const std::size_t bytes = sizeof(float) * floats;
  const Tensor from = Tensor::zeros({floats}, device);
  Tensor to = Tensor::empty({floats}, device);
  cudaEvent_t start, stop;
  LATF_CUDA_CHECK(cudaEventCreate(&start));
  LATF_CUDA_CHECK(cudaEventCreate(&stop));
  Peaks peaks;
  for (int repeat = 0; repeat < 4; ++repeat) {  // the first is a warm-up; the best counts
    float ms = 0;
    LATF_CUDA_CHECK(cudaEventRecord(start, stream));
    fma_kernel<<<blocks, threads, 0, stream>>>(out.data<float>(), 0.999999f, 1e-7f);
    LATF_CUDA_CHECK_LAUNCH();
    LATF_CUDA_CHECK(cudaEventRecord(stop, stream));
    LATF_CUDA_CHECK(cudaEventSynchronize(stop));
    LATF_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    const double flops = 2.0 * 4 * kFmaIterations * static_cast<double>(blocks) * threads;
    if (repeat > 0) peaks.gflops = std::max(peaks.gflops, flops / (ms * 1e-3) * 1e-9);
    LATF_CUDA_CHECK(cudaEventRecord(start, stream));
    LATF_CUDA_CHECK(cudaMemcpyAsync(to.raw_data(), from.raw_data(), bytes, cudaMemcpyDeviceToDevice, stream));
    LATF_CUDA_CHECK(cudaEventRecord(stop, stream));
    LATF_CUDA_CHECK(cudaEventSynchronize(stop));
    LATF_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    if (repeat > 0) peaks.gbytes_per_second = std::max(peaks.gbytes_per_second, 2.0 * bytes / (ms * 1e-3) * 1e-9);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return peaks;
}

}  // namespace latf::bench
