#pragma once
// Fills tensors with reproducible random numbers: element i of a fill with (seed, stream)
// depends only on (seed, stream, i), identically on every backend.
#include <cstdint>

#include "engine/tensor.hpp"

namespace latf {

void fill_normal(Tensor& out, std::uint64_t seed, std::uint64_t stream, double mean = 0.0, double stddev = 1.0);
void fill_uniform(Tensor& out, std::uint64_t seed, std::uint64_t stream, double low = 0.0, double high = 1.0);

// A seeded source of (seed, stream) pairs: every call hands out a fresh stream id.
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}
  std::uint64_t seed() const { return seed_; }
  std::uint64_t next_stream() { return next_stream_++; }
  void normal(Tensor& out, double mean = 0.0, double stddev = 1.0) { fill_normal(out, seed_, next_stream(), mean, stddev); }
  void uniform(Tensor& out, double low = 0.0, double high = 1.0) { fill_uniform(out, seed_, next_stream(), low, high); }

 private:
  std::uint64_t seed_;
  std::uint64_t next_stream_ = 0;
};

}  // namespace latf
