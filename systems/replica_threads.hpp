#pragma once
// Runs independent replicas on CPU threads. Each worker gets a contiguous block of replicas;
// replicas are self-contained, so the split changes nothing but the wall time.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

namespace latf::systems {

// `threads` ≤ 0 means all cores.
inline int worker_threads(int threads) {
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Calls run_replica(r) for every r in [0, replicas), spread over `threads` workers.
template <class RunReplica>
void for_each_replica(std::int64_t replicas, int threads, const RunReplica& run_replica) {
  const auto work = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) run_replica(r);
  };
  const std::int64_t workers = std::min<std::int64_t>(worker_threads(threads), replicas);
  if (workers <= 1) {
    work(0, replicas);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(workers));
  for (std::int64_t w = 0; w < workers; ++w) pool.emplace_back(work, replicas * w / workers, replicas * (w + 1) / workers);
  for (std::thread& t : pool) t.join();
}

inline bool positive_finite(double value) { return std::isfinite(value) && value > 0; }

}  // namespace latf::systems
