#pragma once
// A seeded bijection of [0, n) evaluated one index at a time, so that each GPU thread can place
// its own element without sorting or a shared shuffle: an alternating (unbalanced) Feistel
// network on the smallest domain 2^b ≥ n, split into a high part of ⌈b/2⌉ bits and a low part of
// ⌊b/2⌋ bits; each round XORs one part with a keyed hash of the other, which is invertible
// whatever the hash, so a pass is a bijection of the domain. Cycle walking (re-apply until the
// value lands below n) restricts it to [0, n): the walk stays on i's cycle, which contains i
// itself, so it ends, and it maps each cycle's in-range elements to the next in-range one, a
// bijection of [0, n). For n > 128 the domain is below 2n, so a walk averages fewer than two
// passes.
// The round keys come from Philox (engine/random.hpp), so one (seed, stream) gives the same order
// on the CPU and the GPU.
#include <cstdint>

#include "engine/random.hpp"

namespace latf::kernels {

constexpr int kFeistelRounds = 8;  // ≥ 4 makes a Feistel network of good round functions a strong
                                   // pseudo-random permutation (Luby–Rackoff); 8 (four per part)
                                   // leaves margin for a hash round function

struct PermutationKey {
  std::uint64_t n = 0;
  int low_bits = 1;  // the domain is 2^(high_bits + low_bits), high_bits ≤ 32, low_bits ≤ 31
  std::uint32_t high_mask = 1, low_mask = 1;
  std::uint32_t round_keys[kFeistelRounds] = {};
};

// The Feistel round function: murmur3's 32-bit finaliser (full avalanche) of the keyed input.
// 32-bit arithmetic throughout, so the CPU loop vectorises.
LATF_HD std::uint32_t feistel_mix(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x85EBCA6Bu;
  x ^= x >> 13;
  x *= 0xC2B2AE35u;
  x ^= x >> 16;
  return x;
}

// Round keys from (seed, stream); n is the size of the set to permute.
inline PermutationKey make_permutation_key(std::uint64_t n, std::uint64_t seed, std::uint64_t stream) {
  PermutationKey key;
  key.n = n;
  int bits = 0;  // bit width of n − 1, the largest index
  for (std::uint64_t largest = n > 0 ? n - 1 : 0; largest > 0; largest >>= 1) ++bits;
  // At least 4 bits per part: with 1- to 3-bit parts the round functions take so few distinct
  // values that 8 rounds leave the order measurably non-uniform (pairs of positions, tested).
  // For n < 256 the walk is then longer, but n is small.
  if (bits < 8) bits = 8;
  key.low_bits = bits / 2;
  key.low_mask = static_cast<std::uint32_t>((std::uint64_t{1} << key.low_bits) - 1);
  key.high_mask = static_cast<std::uint32_t>((std::uint64_t{1} << (bits - key.low_bits)) - 1);
  for (int block = 0; block < kFeistelRounds / 4; ++block) {
    const rng::Philox4 w = rng::random_words(seed, stream, static_cast<std::uint64_t>(block));
    for (int j = 0; j < 4; ++j) key.round_keys[4 * block + j] = w.v[j];
  }
  return key;
}

// One pass of the network over the domain.
LATF_HD std::uint64_t feistel_pass(const PermutationKey& key, std::uint64_t x) {
  std::uint32_t high = static_cast<std::uint32_t>(x >> key.low_bits), low = static_cast<std::uint32_t>(x) & key.low_mask;
  for (int round = 0; round < kFeistelRounds; round += 2) {
    high ^= feistel_mix(low ^ key.round_keys[round]) & key.high_mask;
    low ^= feistel_mix(high ^ key.round_keys[round + 1]) & key.low_mask;
  }
  return (static_cast<std::uint64_t>(high) << key.low_bits) | low;
}

// The element at position i (< n) of the permuted order.
LATF_HD std::uint64_t permuted_index(const PermutationKey& key, std::uint64_t i) {
  std::uint64_t x = feistel_pass(key, i);
  while (x >= key.n) x = feistel_pass(key, x);
  return x;
}

}  // namespace latf::kernels
