#pragma once
// Index lists on a device and the seeded permutation that shuffles a training epoch there.
// Tensor holds floating-point values only; row indices need exact 64-bit integers, so they live
// in Indices: a flat int64 array in a pooled block on one device (no raw allocation per epoch).
#include <cstdint>
#include <vector>

#include "engine/memory.hpp"
#include "kernels/common.hpp"
#include "kernels/permutation_math.hpp"

namespace latf::kernels {

class Indices {
 public:
  Indices() = default;
  Indices(const Indices& other);
  Indices(Indices&& other) noexcept;
  Indices& operator=(const Indices& other);
  Indices& operator=(Indices&& other) noexcept;
  ~Indices();

  static Indices empty(std::int64_t size, const Device& device = Device::cpu());
  static Indices from_vector(const std::vector<std::int64_t>& values, const Device& device = Device::cpu());

  bool defined() const { return block_ != nullptr; }
  std::int64_t size() const { return size_; }
  const Device& device() const { return device_; }
  std::int64_t* data() const;
  Indices to(const Device& device) const;    // copy (or these indices if already there)
  std::vector<std::int64_t> to_vector() const;  // reads back to the host (synchronises on a GPU)

 private:
  void release();
  MemoryBlock* block_ = nullptr;
  std::int64_t size_ = 0;
  Device device_;
};

// out[i] = the i-th element of the seeded permutation of [0, out.size()) for (seed, stream):
// the same order on every backend. No host work or synchronisation beyond one launch on a GPU.
void permutation(Indices& out, std::uint64_t seed, std::uint64_t stream);

}  // namespace latf::kernels
