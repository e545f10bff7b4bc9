#include "engine/random_fill.hpp"

#include "engine/error.hpp"
#include "engine/random_math.hpp"

namespace latf {

#if LATF_WITH_CUDA
void random_fill_cuda(float* out, std::int64_t n, std::uint64_t seed, std::uint64_t stream, bool normal,
                      double shift, double scale, int device_index);
#endif

namespace {

template <class T>
void random_fill_cpu(T* out, std::int64_t n, std::uint64_t seed, std::uint64_t stream, bool normal,
                     double shift, double scale) {
  double values[4];
  for (std::int64_t block = 0; block * 4 < n; ++block) {
    if (normal) {
      rng::normal_block(seed, stream, block, values);
    } else {
      rng::uniform_block(seed, stream, block, values);
    }
    for (int j = 0; j < 4 && block * 4 + j < n; ++j) out[block * 4 + j] = static_cast<T>(shift + scale * values[j]);
  }
}

void random_fill(Tensor& out, std::uint64_t seed, std::uint64_t stream, bool normal, double shift, double scale) {
  require_defined(out, "random fill output");
  if (out.device().is_cuda()) {
#if LATF_WITH_CUDA
    random_fill_cuda(out.data<float>(), out.numel(), seed, stream, normal, shift, scale, out.device().index);
#endif
  } else if (out.dtype() == DType::Float32) {
    random_fill_cpu(out.data<float>(), out.numel(), seed, stream, normal, shift, scale);
  } else {
    random_fill_cpu(out.data<double>(), out.numel(), seed, stream, normal, shift, scale);
  }
}

}  // namespace

void fill_normal(Tensor& out, std::uint64_t seed, std::uint64_t stream, double mean, double stddev) {
  LATF_REQUIRE(stddev >= 0, "fill_normal: standard deviation ", stddev, " is negative");
  random_fill(out, seed, stream, true, mean, stddev);
}

void fill_uniform(Tensor& out, std::uint64_t seed, std::uint64_t stream, double low, double high) {
  LATF_REQUIRE(high > low, "fill_uniform: expected low < high, got [", low, ", ", high, "]");
  random_fill(out, seed, stream, false, low, high - low);
}

}  // namespace latf
