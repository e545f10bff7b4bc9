#include "engine/cuda_check.cuh"
#include "engine/launch.cuh"
#include "engine/random_math.hpp"

namespace latf {

namespace {
// `models` fills of n elements each, laid end to end: model m's slice starts at m·n and uses
// (seeds[m], streams[m]), read from device memory, or (seed, stream) when the word lists are
// null (the single fill, models = 1). One thread per block of four values of one model.
__global__ void random_fill_kernel(float* out, std::int64_t models, std::int64_t n, const std::int64_t* seeds,
                                   const std::int64_t* streams, std::uint64_t seed, std::uint64_t stream,
                                   bool normal, double shift, double scale) {
  const std::int64_t blocks = (n + 3) / 4, total = models * blocks;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < total;
       i += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t m = i / blocks, block = i - m * blocks;
    const std::uint64_t model_seed = seeds != nullptr ? static_cast<std::uint64_t>(seeds[m]) : seed;
    const std::uint64_t model_stream = streams != nullptr ? static_cast<std::uint64_t>(streams[m]) : stream;
    float* slice = out + m * n;
    double values[4];
    if (normal) {
      rng::normal_block(model_seed, model_stream, block, values);
    } else {
      rng::uniform_block(model_seed, model_stream, block, values);
    }
    for (int j = 0; j < 4 && block * 4 + j < n; ++j) slice[block * 4 + j] = static_cast<float>(shift + scale * values[j]);
  }
}

__global__ void advance_words_kernel(std::int64_t* words, std::int64_t size, std::uint64_t by) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < size;
       i += std::int64_t(gridDim.x) * blockDim.x)
    words[i] = static_cast<std::int64_t>(static_cast<std::uint64_t>(words[i]) + by);
}
}  // namespace

void random_fill_cuda(float* out, std::int64_t n, std::uint64_t seed, std::uint64_t stream, bool normal,
                      double shift, double scale, int device_index) {
  if (n == 0) return;
  random_fill_kernel<<<cuda::grid_for((n + 3) / 4), cuda::kBlock, 0, cuda::current_stream(device_index)>>>(
      out, 1, n, nullptr, nullptr, seed, stream, normal, shift, scale);
  LATF_CUDA_CHECK_LAUNCH();
}

void random_fill_stacked_cuda(float* out, std::int64_t models, std::int64_t n, const std::int64_t* seeds,
                              const std::int64_t* streams, bool normal, double shift, double scale,
                              int device_index) {
  if (models == 0 || n == 0) return;
  random_fill_kernel<<<cuda::grid_for(models * ((n + 3) / 4)), cuda::kBlock, 0, cuda::current_stream(device_index)>>>(
      out, models, n, seeds, streams, 0, 0, normal, shift, scale);
  LATF_CUDA_CHECK_LAUNCH();
}

void advance_words_cuda(std::int64_t* words, std::int64_t size, std::uint64_t by, int device_index) {
  if (size == 0) return;
  advance_words_kernel<<<cuda::grid_for(size), cuda::kBlock, 0, cuda::current_stream(device_index)>>>(words, size, by);
  LATF_CUDA_CHECK_LAUNCH();
}

}  // namespace latf
