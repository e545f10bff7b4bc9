#include "bench/peaks.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

namespace latf::bench {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// 16 independent vector accumulators of 16 floats, held in registers (GCC vector types): enough
// FMA chains in flight to hide the FMA latency on both FMA ports of a current x86 core.
double cpu_fma_gflops() {
  typedef float Vec __attribute__((vector_size(64)));
  constexpr long kIterations = 2'000'000;
  volatile float scale_source = 0.999999f, shift_source = 1e-7f;
  const Vec scale = Vec{} + scale_source, shift = Vec{} + shift_source;
  Vec a0 = Vec{} + 1.f, a1 = a0 + 1.f, a2 = a0 + 2.f, a3 = a0 + 3.f, a4 = a0 + 4.f, a5 = a0 + 5.f, a6 = a0 + 6.f,
      a7 = a0 + 7.f, a8 = a0 + 8.f, a9 = a0 + 9.f, a10 = a0 + 10.f, a11 = a0 + 11.f, a12 = a0 + 12.f,
      a13 = a0 + 13.f, a14 = a0 + 14.f, a15 = a0 + 15.f;
  double best = 0;
  for (int repeat = 0; repeat < 3; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < kIterations; ++i) {
      a0 = a0 * scale + shift, a1 = a1 * scale + shift, a2 = a2 * scale + shift, a3 = a3 * scale + shift;
      a4 = a4 * scale + shift, a5 = a5 * scale + shift, a6 = a6 * scale + shift, a7 = a7 * scale + shift;
      a8 = a8 * scale + shift, a9 = a9 * scale + shift, a10 = a10 * scale + shift, a11 = a11 * scale + shift;
      a12 = a12 * scale + shift, a13 = a13 * scale + shift, a14 = a14 * scale + shift, a15 = a15 * scale + shift;
    }
    best = std::max(best, 2.0 * 16 * 16 * kIterations / seconds_since(start) * 1e-9);
  }
  const Vec all = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15;
  volatile float sink = all[0];  // keeps the loop
  (void)sink;
  return best;
}

double cpu_copy_gbytes_per_second() {
  const std::size_t bytes = std::size_t{256} << 20;
  std::vector<char> from(bytes, 1), to(bytes, 0);
  double best = 0;
  for (int repeat = 0; repeat < 3; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    std::memcpy(to.data(), from.data(), bytes);
    best = std::max(best, 2.0 * static_cast<double>(bytes) / seconds_since(start) * 1e-9);
  }
  return best;
}

}  // namespace

Peaks measure_peaks(const Device& device) {
  if (device.is_cuda()) {
#if LATF_WITH_CUDA
    return measure_cuda_peaks(device.index);
#else
    return {};
#endif
  }
  return Peaks{cpu_fma_gflops(), cpu_copy_gbytes_per_second()};
}

}  // namespace latf::bench
