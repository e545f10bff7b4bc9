#pragma once
#include <algorithm>
#include <cstdint>

namespace latf::cuda {
constexpr int kBlock = 256;
// Grid for a grid-stride loop over n items: enough blocks to fill an H200, never zero.
inline unsigned grid_for(std::int64_t n, int block = kBlock) {
  const std::int64_t blocks = (n + block - 1) / block;
  return static_cast<unsigned>(std::clamp<std::int64_t>(blocks, 1, 132 * 32));
}
}  // namespace latf::cuda
