#pragma once
// exp(x) for x ≤ 0 and log(x) for x > 0 in float, written so that a loop over it vectorises: libm's expf is an opaque
// call that the compiler cannot widen without -ffast-math, and the VampPrior's CPU loops spend most
// of their time in exactly such calls (one per row and component). Host only; the CUDA kernels use
// the hardware expf.
//
// Accuracy: within 2 ulp of the correctly rounded value for x ≥ −87. Every x < −87 gives 0: that
// is the subnormal range plus a sliver of normal results (e^x in 1.18e-38 … 1.66e-38 for
// x ∈ (−87.34, −87)), all below the rounding of any sum they take part in. NaN stays NaN, −∞ gives 0.
// Not exactly monotonic: adjacent inputs may rise by 1 ulp (tests/test_vector_exp.cpp).
#include <bit>
#include <cstdint>

// Put before a loop over the lanes of a row block (a compile-time count such as 16): GCC would
// otherwise unroll such a short loop completely before its vectoriser runs, and the unrolled
// scalar code mostly stays scalar. Kept rolled, the loop becomes a few vector instructions.
#define LATF_LANE_LOOP _Pragma("GCC unroll 1")

namespace latf::kernels {

inline float exp_nonpositive(float x) {
  const bool underflow = x < -87.0f;
  const float xc = underflow ? -87.0f : x;
  // x = n·ln2 + r with n = round(x/ln2): adding 1.5·2²³ rounds to an integer held in the low
  // mantissa bits, with no float→int conversion that NaN would make undefined.
  constexpr float kShift = 12582912.0f;
  const float shifted = xc * 1.44269504088896341f + kShift;
  const float n = shifted - kShift;
  const std::uint32_t n_bits = std::bit_cast<std::uint32_t>(shifted) - std::bit_cast<std::uint32_t>(kShift);
  // ln2 split in two (Cody–Waite) so that n·ln2_hi is exact and r keeps full precision.
  const float r = (xc - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
  // Taylor series of e^r to degree 7 on |r| ≤ ln2/2: truncation error < 6e-9, far under 1 ulp.
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2ⁿ built from its exponent bits; n ∈ [−126, 0] here, so the result is a normal float.
  const float scale = std::bit_cast<float>((n_bits + 127u) << 23);
  return underflow ? 0.0f : p * scale;
}

// log(x) for a positive normal float x (the cross-entropy's Σ exp(x_k − max) ≥ 1), vectorisable for
// the same reason as exp_nonpositive. Within 2 ulp of the correctly rounded value; +∞ and NaN pass
// through unchanged. Zero, negative and subnormal x are outside the domain (their callers cannot
// produce them).
inline float log_positive(float x) {
  // x = 2^e · m with m ∈ [√½, √2): measuring the bits from those of √½ makes the exponent field
  // of the difference e itself, with no branch on which half of the binade m falls in.
  constexpr std::uint32_t kSqrtHalf = 0x3f3504f3u;
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const std::uint32_t from_sqrt_half = bits - kSqrtHalf;
  const std::int32_t e = static_cast<std::int32_t>(from_sqrt_half) >> 23;
  const float m = std::bit_cast<float>(bits - (from_sqrt_half & 0xff800000u));
  // log m = 2·atanh(s), s = (m − 1)/(m + 1) ∈ [−0.172, 0.172]; m − 1 is exact. The odd series to
  // s¹¹ leaves a relative truncation error below s¹²/13 < 1e-10.
  const float f = m - 1.0f;
  const float s = f / (2.0f + f);
  const float s2 = s * s;
  float p = 2.0f / 11.0f;
  p = p * s2 + 2.0f / 9.0f;
  p = p * s2 + 2.0f / 7.0f;
  p = p * s2 + 2.0f / 5.0f;
  p = p * s2 + 2.0f / 3.0f;
  const float log_m = 2.0f * s + s * s2 * p;
  // e·ln2 with ln2 split in two (Cody–Waite): e·ln2_hi is exact for |e| ≤ 255.
  const float fe = static_cast<float>(e);
  const float result = fe * 0.693145751953125f + (log_m + fe * 1.42860682030941723e-6f);
  // +∞ and NaN (bits ≥ those of +∞) pass through; an integer select keeps the loop branch-free.
  const std::uint32_t keep = bits < 0x7f800000u ? ~0u : 0u;
  return std::bit_cast<float>((std::bit_cast<std::uint32_t>(result) & keep) | (bits & ~keep));
}

}  // namespace latf::kernels
