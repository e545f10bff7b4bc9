#pragma once
// Pooled memory: each device has one caching pool. Freed blocks return to a free list keyed by
// size class and are handed out again, so a training step in its steady state makes no
// cudaMalloc/cudaFree and no host allocation. All kernels of a device run on one stream, so a
// block freed on the host may be reused at once: later work is ordered after earlier work.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "engine/device.hpp"

namespace latf {

struct Reservation;  // below

struct MemoryBlock {
  void* data = nullptr;
  std::size_t bytes = 0;  // capacity of the size class
  Device device;
  std::atomic<int> references{0};
  Reservation* reservation = nullptr;  // set while a recorded graph owns the block
};

struct PoolStats {
  std::uint64_t raw_allocations = 0;  // calls to malloc/cudaMalloc made by the pool
  std::uint64_t requests = 0;         // blocks handed out
  std::size_t bytes_reserved = 0;     // held from the system
  std::size_t bytes_in_use = 0;       // held by live tensors
};

// Returns a block with one reference; release it with release_block when the count drops to 0.
MemoryBlock* acquire_block(std::size_t bytes, const Device& device);
void release_block(MemoryBlock* block);
PoolStats pool_stats(const Device& device);
// Gives every cached (unused) block back to the system.
void release_cached_memory(const Device& device);
// The size class a request of `bytes` is rounded up to (exposed for tests).
std::size_t pool_size_class(std::size_t bytes);

// Memory for a recorded CUDA Graph (engine/step_graph.hpp). A replayed graph writes to the very
// addresses it was recorded with, including those of temporaries that were released during the
// recording. So between begin_reservation and end_reservation every block the device's pool hands
// out is reserved: once released it waits on the reservation's own free list, where only later
// requests of the same recording find it, never the rest of the program. release_reservation
// gives every block back to the pool (the blocks still held by tensors when those release them).
// One reservation per device at a time.
Reservation* begin_reservation(const Device& device);
void end_reservation(const Device& device);
void release_reservation(Reservation* reservation);

}  // namespace latf
