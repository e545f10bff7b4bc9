#include "engine/memory.hpp"

#include <bit>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include "engine/cuda_runtime.hpp"
#include "engine/error.hpp"

namespace latf {

struct Reservation {
  Device device;
  std::map<std::size_t, std::vector<MemoryBlock*>> free;  // released blocks, for the same recording
  std::vector<MemoryBlock*> blocks;                       // every block it owns
};

std::size_t pool_size_class(std::size_t bytes) {
  constexpr std::size_t kMinimum = 256;
  if (bytes <= kMinimum) return kMinimum;
  // Four classes per power of two bound the waste to 25 %.
  const std::size_t power = std::bit_floor(bytes);
  const std::size_t step = power / 4;
  return (bytes + step - 1) / step * step;
}

namespace {

class Pool {
 public:
  explicit Pool(Device device) : device_(device) {}

  MemoryBlock* acquire(std::size_t bytes) {
    const std::size_t size = pool_size_class(bytes);
    std::lock_guard<std::mutex> guard(lock_);
    ++stats_.requests;
    MemoryBlock* block = nullptr;
    auto& free_list = free_[size];
    if (recording_ != nullptr && !recording_->free[size].empty()) {  // the recording's own first
      block = recording_->free[size].back();
      recording_->free[size].pop_back();
    } else if (!free_list.empty()) {
      block = free_list.back();
      free_list.pop_back();
    } else {
      block = new MemoryBlock;
      block->data = raw_allocate(size);
      block->bytes = size;
      block->device = device_;
      ++stats_.raw_allocations;
      stats_.bytes_reserved += size;
      free_list.reserve(free_list.size() + 1);  // room to take this block back without allocating
    }
    if (recording_ != nullptr && block->reservation == nullptr) {
      block->reservation = recording_;
      recording_->blocks.push_back(block);
    }
    stats_.bytes_in_use += size;
    block->references.store(1);
    return block;
  }

  void release(MemoryBlock* block) {
    std::lock_guard<std::mutex> guard(lock_);
    stats_.bytes_in_use -= block->bytes;
    if (block->reservation != nullptr) {
      block->reservation->free[block->bytes].push_back(block);
    } else {
      free_[block->bytes].push_back(block);
    }
  }

  Reservation* begin_reservation() {
    std::lock_guard<std::mutex> guard(lock_);
    LATF_REQUIRE(recording_ == nullptr, "memory pool of ", device_.str(), ": a graph recording is already running");
    recording_ = new Reservation{device_, {}, {}};
    return recording_;
  }

  void end_reservation() {
    std::lock_guard<std::mutex> guard(lock_);
    recording_ = nullptr;
  }

  void release_reservation(Reservation* reservation) {
    std::lock_guard<std::mutex> guard(lock_);
    if (recording_ == reservation) recording_ = nullptr;
    for (auto& [size, blocks] : reservation->free)
      for (MemoryBlock* block : blocks) free_[size].push_back(block);
    // Blocks still in use go back to the pool when their tensors release them.
    for (MemoryBlock* block : reservation->blocks) block->reservation = nullptr;
    delete reservation;
  }

  void release_cached() {
    std::lock_guard<std::mutex> guard(lock_);
    for (auto& [size, blocks] : free_) {
      for (MemoryBlock* block : blocks) {
        raw_free(block->data);
        stats_.bytes_reserved -= block->bytes;
        delete block;
      }
      blocks.clear();
    }
  }

  PoolStats stats() {
    std::lock_guard<std::mutex> guard(lock_);
    return stats_;
  }

 private:
  void* raw_allocate(std::size_t bytes) {
    if (device_.is_cuda()) return cuda::malloc_device(bytes, device_.index);
    void* ptr = std::aligned_alloc(64, bytes);  // 64-byte aligned for vector loads
    if (ptr == nullptr) throw BackendError(concat("host allocation of ", bytes, " bytes failed"));
    return ptr;
  }
  void raw_free(void* ptr) {
    if (device_.is_cuda()) {
      cuda::free_device(ptr, device_.index);
    } else {
      std::free(ptr);
    }
  }

  Device device_;
  std::mutex lock_;
  std::map<std::size_t, std::vector<MemoryBlock*>> free_;
  Reservation* recording_ = nullptr;
  PoolStats stats_;
};

constexpr int kMaxCudaDevices = 16;

Pool& pool_for(const Device& device) {
  // Pools live until the process ends (never destroyed), so no block is freed after the CUDA
  // runtime has shut down.
  static Pool* cpu = new Pool(Device::cpu());
  static Pool* gpus[kMaxCudaDevices] = {};
  static std::mutex lock;
  if (device.is_cpu()) return *cpu;
  LATF_REQUIRE(device.index >= 0 && device.index < kMaxCudaDevices, "device ", device.str(),
               ": index out of range");
  std::lock_guard<std::mutex> guard(lock);
  if (gpus[device.index] == nullptr) {
    require_usable(device);
    gpus[device.index] = new Pool(device);
  }
  return *gpus[device.index];
}

}  // namespace

MemoryBlock* acquire_block(std::size_t bytes, const Device& device) {
  return pool_for(device).acquire(bytes);
}

void release_block(MemoryBlock* block) { pool_for(block->device).release(block); }

PoolStats pool_stats(const Device& device) { return pool_for(device).stats(); }

void release_cached_memory(const Device& device) { pool_for(device).release_cached(); }

Reservation* begin_reservation(const Device& device) { return pool_for(device).begin_reservation(); }
void end_reservation(const Device& device) { pool_for(device).end_reservation(); }
void release_reservation(Reservation* reservation) {
  if (reservation != nullptr) pool_for(reservation->device).release_reservation(reservation);
}

}  // namespace latf
