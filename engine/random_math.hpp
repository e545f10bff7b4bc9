#pragma once
#include "engine/random.hpp"

namespace latf::rng {

// The four values of block `block` (elements 4·block … 4·block+3) of a fill.
LATF_HD void normal_block(std::uint64_t seed, std::uint64_t stream, std::uint64_t block, double out[4]) {
  const Philox4 w = random_words(seed, stream, block);
  normal_pair(w.v[0], w.v[1], &out[0], &out[1]);
  normal_pair(w.v[2], w.v[3], &out[2], &out[3]);
}

LATF_HD void uniform_block(std::uint64_t seed, std::uint64_t stream, std::uint64_t block, double out[4]) {
  const Philox4 w = random_words(seed, stream, block);
  for (int j = 0; j < 4; ++j) out[j] = uniform_open(w.v[j]);
}

}  // namespace latf::rng
