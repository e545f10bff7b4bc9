#pragma once
// exp(x) for x ≤ 0 in float, written so that a loop over it vectorises: libm's expf is an opaque
// call that the compiler cannot widen without -ffast-math, and the VampPrior's CPU loops spend most
// of their time in exactly such calls (one per row and component). Host only; the CUDA kernels use
// the hardware expf.
//
// Accuracy: within 2 ulp of the correctly rounded value for normal results. Results below the
// smallest normal float (x < −87) are flushed to 0 (libm returns a subnormal ≤ 1.7e-38 there,
// which is below the rounding of any sum it takes part in). NaN stays NaN, −∞ gives 0.
#include <bit>
#include <cstdint>

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

}  // namespace latf::kernels
