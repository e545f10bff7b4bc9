#include "kernels/permutation.hpp"

#include <algorithm>
#include <cstring>

#include "engine/cuda_runtime.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void permutation_cuda(std::int64_t* out, const PermutationKey& key, int device_index);
#endif

Indices::Indices(const Indices& other) : block_(other.block_), size_(other.size_), device_(other.device_) {
  if (block_) block_->references.fetch_add(1);
}

Indices::Indices(Indices&& other) noexcept : block_(other.block_), size_(other.size_), device_(other.device_) {
  other.block_ = nullptr;
  other.size_ = 0;
}

Indices& Indices::operator=(const Indices& other) {
  if (this != &other) {
    Indices copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Indices& Indices::operator=(Indices&& other) noexcept {
  if (this != &other) {
    release();
    block_ = other.block_;
    size_ = other.size_;
    device_ = other.device_;
    other.block_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

Indices::~Indices() { release(); }

void Indices::release() {
  if (block_ && block_->references.fetch_sub(1) == 1) release_block(block_);
  block_ = nullptr;
  size_ = 0;
}

Indices Indices::empty(std::int64_t size, const Device& device) {
  LATF_REQUIRE(size >= 0, "index list size: expected ≥ 0, got ", size);
  Indices out;
  // One element at least, so that an empty list still has a block (defined() means "allocated").
  out.block_ = acquire_block(static_cast<std::size_t>(size > 0 ? size : 1) * sizeof(std::int64_t), device);
  out.size_ = size;
  out.device_ = device;
  return out;
}

std::int64_t* Indices::data() const {
  LATF_REQUIRE(block_ != nullptr, "index list: not allocated");
  return static_cast<std::int64_t*>(block_->data);
}

Indices Indices::from_vector(const std::vector<std::int64_t>& values, const Device& device) {
  Indices out = empty(static_cast<std::int64_t>(values.size()), device);
  const std::size_t bytes = values.size() * sizeof(std::int64_t);
  if (bytes == 0) return out;
  if (device.is_cuda()) {
    cuda::copy(out.data(), values.data(), bytes, cuda::CopyKind::HostToDevice, device.index);
  } else {
    std::memcpy(out.data(), values.data(), bytes);
  }
  return out;
}

Indices Indices::to(const Device& device) const {
  if (device == device_) return *this;
  LATF_REQUIRE(device_.is_cpu() || device.is_cpu(), "index list: copy between two CUDA devices (", device_.str(),
               " to ", device.str(), ") is not supported");
  if (device.is_cpu()) {
    Indices out = empty(size_, device);
    if (size_ > 0)
      cuda::copy(out.data(), data(), size_ * sizeof(std::int64_t), cuda::CopyKind::DeviceToHost, device_.index);
    return out;
  }
  Indices out = empty(size_, device);
  if (size_ > 0)
    cuda::copy(out.data(), data(), size_ * sizeof(std::int64_t), cuda::CopyKind::HostToDevice, device.index);
  return out;
}

std::vector<std::int64_t> Indices::to_vector() const {
  std::vector<std::int64_t> values(static_cast<std::size_t>(size_));
  if (size_ == 0) return values;
  if (device_.is_cuda()) {
    cuda::copy(values.data(), data(), values.size() * sizeof(std::int64_t), cuda::CopyKind::DeviceToHost,
               device_.index);
  } else {
    std::memcpy(values.data(), data(), values.size() * sizeof(std::int64_t));
  }
  return values;
}

void permutation(Indices& out, std::uint64_t seed, std::uint64_t stream) {
  LATF_REQUIRE(out.defined(), "permutation output: not allocated");
  const PermutationKey key = make_permutation_key(static_cast<std::uint64_t>(out.size()), seed, stream);
  if (out.size() == 0) return;
  if (out.device().is_cuda()) {
#if LATF_WITH_CUDA
    permutation_cuda(out.data(), key, out.device().index);
#else
    no_cuda_backend("permutation");
#endif
    return;
  }
  // permuted_index, evaluated a chunk at a time: one pass for every position, then further passes
  // only for the positions still out of range, kept in a compacted list. A plain loop over
  // permuted_index branches unpredictably on each walk's length and serialises the positions;
  // this one keeps every loop free of data-dependent branches (same values, several times faster).
  constexpr std::int64_t kChunk = 256;
  std::int64_t pending[kChunk];
  std::int64_t* o = out.data();
  const std::uint64_t n = key.n;
  for (std::int64_t base = 0; base < out.size(); base += kChunk) {
    const std::int64_t m = std::min(kChunk, out.size() - base);
    std::int64_t count = 0;
    for (std::int64_t i = 0; i < m; ++i)
      o[base + i] = static_cast<std::int64_t>(feistel_pass(key, static_cast<std::uint64_t>(base + i)));
    for (std::int64_t i = 0; i < m; ++i) {
      pending[count] = i;
      count += static_cast<std::uint64_t>(o[base + i]) >= n;
    }
    while (count > 0) {
      std::int64_t still = 0;
      for (std::int64_t k = 0; k < count; ++k) {
        const std::int64_t i = pending[k];
        const std::uint64_t x = feistel_pass(key, static_cast<std::uint64_t>(o[base + i]));
        o[base + i] = static_cast<std::int64_t>(x);
        pending[still] = i;
        still += x >= n;
      }
      count = still;
    }
  }
}

}  // namespace latf::kernels
