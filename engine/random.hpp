#pragma once
// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11): the value of draw i of
// stream s under seed k is a pure function of (k, s, i). The same function runs on the CPU and
// on the GPU, so both backends produce bit-identical uniforms from one seed, and a run is
// reproducible whatever the thread layout. (cuRAND's host generators would give the GPU a
// stream the CPU cannot reproduce; its Philox is the same algorithm as this one.)
#include <cmath>
#include <cstdint>

#include "engine/hd.hpp"

namespace latf::rng {

struct Philox4 {
  std::uint32_t v[4];
};

LATF_HD std::uint32_t mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t* hi) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  *hi = static_cast<std::uint32_t>(product >> 32);
  return static_cast<std::uint32_t>(product);
}

// Philox4x32 with 10 rounds on counter (c0..c3) and key (k0, k1).
LATF_HD Philox4 philox4x32_10(Philox4 counter, std::uint32_t k0, std::uint32_t k1) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  Philox4 x = counter;
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, hi1;
    const std::uint32_t lo0 = mulhilo(kMul0, x.v[0], &hi0);
    const std::uint32_t lo1 = mulhilo(kMul1, x.v[2], &hi1);
    x = Philox4{{hi1 ^ x.v[1] ^ k0, lo1, hi0 ^ x.v[3] ^ k1, lo0}};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return x;
}

// Four 32-bit words for (seed, stream, index): stream is typically a row or tensor id,
// index counts the blocks of four words drawn in that stream.
LATF_HD Philox4 random_words(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  const Philox4 counter{{static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32),
                         static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32)}};
  return philox4x32_10(counter, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

// Uniform in the open interval (0, 1): never 0, so log() is safe.
LATF_HD double uniform_open(std::uint32_t word) { return (static_cast<double>(word) + 0.5) * 2.3283064365386963e-10; }

// Two standard normals from two words by Box–Muller (double internally for accuracy in the tails).
LATF_HD void normal_pair(std::uint32_t w0, std::uint32_t w1, double* n0, double* n1) {
  const double radius = std::sqrt(-2.0 * std::log(uniform_open(w0)));
  const double angle = 6.283185307179586 * uniform_open(w1);
  *n0 = radius * std::cos(angle);
  *n1 = radius * std::sin(angle);
}

}  // namespace latf::rng
