#include "engine/random_fill.hpp"

#include "engine/error.hpp"
#include "engine/random_math.hpp"

namespace latf {

#if LATF_WITH_CUDA
void random_fill_cuda(float* out, std::int64_t n, std::uint64_t seed, std::uint64_t stream, bool normal,
                      double shift, double scale, int device_index);
void random_fill_stacked_cuda(float* out, std::int64_t models, std::int64_t n, const std::int64_t* seeds,
                              const std::int64_t* streams, bool normal, double shift, double scale,
                              int device_index);
void advance_words_cuda(std::int64_t* words, std::int64_t size, std::uint64_t by, int device_index);
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

void require_words(const WordList& words, std::int64_t expected, const Device& device, const char* operand) {
  LATF_REQUIRE(words.defined, operand, ": not allocated");
  LATF_REQUIRE(words.device == device, operand, ": expected on ", device.str(), " (where the output is), got ",
               words.device.str());
  LATF_REQUIRE(words.size == expected, operand, ": expected ", expected, " entries (one per model), got ", words.size);
}

}  // namespace

void fill_normal_stacked(Tensor& out, const WordList& seeds, const WordList& streams, double mean, double stddev) {
  LATF_REQUIRE(stddev >= 0, "fill_normal_stacked: standard deviation ", stddev, " is negative");
  require_defined(out, "fill_normal_stacked output");
  LATF_REQUIRE(out.rank() >= 1, "fill_normal_stacked output: expected a leading model dimension [M, ...], got shape ",
               out.shape().str());
  const std::int64_t models = out.dim(0);
  require_words(seeds, models, out.device(), "fill_normal_stacked seeds");
  require_words(streams, models, out.device(), "fill_normal_stacked streams");
  const std::int64_t per_model = models > 0 ? out.numel() / models : 0;
  if (out.device().is_cuda()) {
#if LATF_WITH_CUDA
    random_fill_stacked_cuda(out.data<float>(), models, per_model, seeds.data, streams.data, true, mean, stddev,
                             out.device().index);
#else
    throw BackendError("fill_normal_stacked: tensor is on a CUDA device but this build has no CUDA backend");
#endif
    return;
  }
  // Slice m through the single fill's own loop: equal to fill_normal on the slice by construction.
  for (std::int64_t m = 0; m < models; ++m) {
    const auto seed = static_cast<std::uint64_t>(seeds.data[m]), stream = static_cast<std::uint64_t>(streams.data[m]);
    if (out.dtype() == DType::Float32) {
      random_fill_cpu(out.data<float>() + m * per_model, per_model, seed, stream, true, mean, stddev);
    } else {
      random_fill_cpu(out.data<double>() + m * per_model, per_model, seed, stream, true, mean, stddev);
    }
  }
}

void advance_streams(const WordList& streams, std::uint64_t by) {
  LATF_REQUIRE(streams.defined, "advance_streams streams: not allocated");
  if (streams.device.is_cuda()) {
#if LATF_WITH_CUDA
    advance_words_cuda(streams.data, streams.size, by, streams.device.index);
#else
    throw BackendError("advance_streams: list is on a CUDA device but this build has no CUDA backend");
#endif
    return;
  }
  for (std::int64_t i = 0; i < streams.size; ++i)
    streams.data[i] = static_cast<std::int64_t>(static_cast<std::uint64_t>(streams.data[i]) + by);
}

void fill_normal(Tensor& out, std::uint64_t seed, std::uint64_t stream, double mean, double stddev) {
  LATF_REQUIRE(stddev >= 0, "fill_normal: standard deviation ", stddev, " is negative");
  random_fill(out, seed, stream, true, mean, stddev);
}

void fill_uniform(Tensor& out, std::uint64_t seed, std::uint64_t stream, double low, double high) {
  LATF_REQUIRE(high > low, "fill_uniform: expected low < high, got [", low, ", ", high, "]");
  random_fill(out, seed, stream, false, low, high - low);
}

}  // namespace latf
