// A small flow training step assembled from the engine (coupling stack → tilted prior → loss →
// backward → Adam): it must learn, and in its steady state it must allocate nothing, neither
// from the system through the memory pool nor from the host heap.
#include <atomic>
#include <cstdlib>
#include <new>

#include "tests/flow_fit.hpp"
#include "tests/support.hpp"

namespace {
std::atomic<long> host_allocations{0};
}  // namespace

// Counting replacements of the global allocation functions (this test binary only).
void* operator new(std::size_t bytes) {
  host_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(bytes ? bytes : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t bytes) { return operator new(bytes); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace latf {
namespace {

using testing::FlowFit;

TEST(TrainingStep, LossDecreases) {
  FlowFit fit(4);
  const float first = fit.step();
  float last = first;
  for (int i = 0; i < 150; ++i) last = fit.step();
  EXPECT_TRUE(std::isfinite(last));
  EXPECT_LT(last, first - 0.5f) << "first " << first << ", last " << last;
}

TEST(TrainingStep, SteadyStateAllocatesNothing) {
  FlowFit fit(10);
  for (int i = 0; i < 3; ++i) fit.step();
  const PoolStats pool_before = pool_stats(Device::cpu());
  const long host_before = host_allocations.load();
  for (int i = 0; i < 5; ++i) fit.step();
  EXPECT_EQ(host_allocations.load() - host_before, 0) << "host heap allocations in 5 steady-state steps";
  EXPECT_EQ(pool_stats(Device::cpu()).raw_allocations, pool_before.raw_allocations);
}

}  // namespace
}  // namespace latf
