#pragma once
// Fills tensors with reproducible random numbers: element i of a fill with (seed, stream)
// depends only on (seed, stream, i), identically on every backend.
#include <concepts>
#include <cstdint>

#include "engine/tensor.hpp"

namespace latf {

void fill_normal(Tensor& out, std::uint64_t seed, std::uint64_t stream, double mean = 0.0, double stddev = 1.0);
void fill_uniform(Tensor& out, std::uint64_t seed, std::uint64_t stream, double low = 0.0, double high = 1.0);

// A list of 64-bit words on one device, as the stacked fill reads its seeds and streams. It is
// built implicitly from kernels::Indices (anything with defined(), data(), size(), device()), so a
// caller passes its Indices directly while the engine library needs nothing from the kernels
// library (where Indices lives). Values are the uint64 seeds/streams stored bit for bit as int64.
// It refers to the list's memory; it does not own it.
struct WordList {
  std::int64_t* data = nullptr;
  std::int64_t size = 0;
  Device device;
  bool defined = false;

  WordList() = default;
  template <class List>
    requires(!std::same_as<List, WordList>)
  WordList(const List& list)  // NOLINT(google-explicit-constructor): Indices pass as they are
      : data(list.defined() ? list.data() : nullptr),
        size(list.defined() ? list.size() : 0),
        device(list.device()),
        defined(list.defined()) {}
};

// The stacked fill of M models in one launch: `out` is [M, ...] and its slice m (the numel/M
// elements from m·numel/M) is filled exactly as fill_normal(slice_m, seeds[m], streams[m], mean,
// stddev) fills it, bit for bit on the CPU and the same formula on the GPU. seeds and streams hold
// M words each on out's device; on a GPU the kernel reads them there, not from launch arguments,
// so a captured CUDA Graph draws from their values at replay (see advance_streams). On the CPU they
// are read on the host.
void fill_normal_stacked(Tensor& out, const WordList& seeds, const WordList& streams, double mean = 0.0,
                         double stddev = 1.0);

// streams[i] += by for every entry, on the list's device (one launch on a GPU, no host read): the
// step-to-step advance of a graph-captured stacked fill, so that each replay draws fresh noise.
// Wraps modulo 2^64 like the uint64 stream ids it stores.
void advance_streams(const WordList& streams, std::uint64_t by = 1);

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
