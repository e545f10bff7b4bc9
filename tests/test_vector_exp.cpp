// Accuracy of the vectorisable float exp/log in kernels/vector_exp.hpp, and the subnormal-flush
// contract of dispatch_cpu_dtype in kernels/common.hpp.
//
// Reference: the double-precision libm result rounded to float. That is the correctly rounded
// float except in (vanishingly rare) double-rounding ties, which would cost at most one extra ulp
// on an isolated input; the bound tested is the header's 2 ulp, so such a tie cannot turn a
// correct result into a failure unless the function is already at its limit there.
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/common.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/vector_exp.hpp"
#include "tests/support.hpp"

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace latf {
namespace {

using kernels::exp_nonpositive;
using kernels::log_positive;

// The header documents "within 2 ulp of the correctly rounded value" for both functions.
constexpr std::int64_t kMaxUlp = 2;

// Maps a float to an integer that is monotonic in its value, with +0 and −0 both at 0, so the
// difference of two images counts the floats between them (ulp distance across signs too).
std::int64_t ordered(float f) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  const std::int64_t magnitude = bits & 0x7fffffffu;
  return (bits & 0x80000000u) ? -magnitude : magnitude;
}

std::int64_t ulp_distance(float a, float b) {
  const std::int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

float correctly_rounded_log(float x) { return static_cast<float>(std::log(static_cast<double>(x))); }
float correctly_rounded_exp(float x) { return static_cast<float>(std::exp(static_cast<double>(x))); }

// Tracks the worst input of a sweep so that a failure names it instead of flooding the log.
struct WorstCase {
  std::int64_t ulps = -1;
  float input = 0.0f, got = 0.0f, expected = 0.0f;
  std::int64_t checked = 0;

  void record(float x, float got_value, float expected_value) {
    ++checked;
    const std::int64_t d = ulp_distance(got_value, expected_value);
    if (d > ulps) {
      ulps = d;
      input = x;
      got = got_value;
      expected = expected_value;
    }
  }
  std::string describe() const {
    char buf[200];
    std::snprintf(buf, sizeof buf, "worst %lld ulp at x=%a (%.9g): got %a, expected %a, over %lld inputs",
                  static_cast<long long>(ulps), input, input, got, expected, static_cast<long long>(checked));
    return buf;
  }
};

void check_log(WorstCase& worst, float x) { worst.record(x, log_positive(x), correctly_rounded_log(x)); }
void check_exp(WorstCase& worst, float x) { worst.record(x, exp_nonpositive(x), correctly_rounded_exp(x)); }

// ---------------------------------------------------------------------------------------------
// log_positive: domain is the positive normal floats; +∞ and NaN pass through.

TEST(VectorExpLog, WithinTwoUlpOnStridedSweepOfAllNormalFloats) {
  // A stride of 997 (prime, so not aligned with the 2^23 mantissa period) visits every binade
  // and a scatter of mantissas in each.
  WorstCase worst;
  const std::uint32_t first = std::bit_cast<std::uint32_t>(FLT_MIN), last = std::bit_cast<std::uint32_t>(FLT_MAX);
  for (std::uint32_t bits = first; bits <= last && bits >= first; bits += 997u)
    check_log(worst, std::bit_cast<float>(bits));
  check_log(worst, FLT_MAX);
  EXPECT_LE(worst.ulps, kMaxUlp) << worst.describe();
}

TEST(VectorExpLog, WithinTwoUlpOnEveryFloatOfTheReductionInterval) {
  // log_positive reduces x to m ∈ [√½, √2) and adds e·ln2; every mantissa it can meet lies in
  // [0.5, 2), so sweeping that interval exhaustively covers the polynomial completely,
  // including the cancellation-prone neighbourhood of 1 and both sides of the √½ split.
  WorstCase worst;
  for (std::uint32_t bits = std::bit_cast<std::uint32_t>(0.5f); bits < std::bit_cast<std::uint32_t>(2.0f); ++bits)
    check_log(worst, std::bit_cast<float>(bits));
  EXPECT_LE(worst.ulps, kMaxUlp) << worst.describe();
}

TEST(VectorExpLog, SpecialPointsAreAccurate) {
  WorstCase worst;
  check_log(worst, FLT_MIN);
  check_log(worst, FLT_MAX);
  for (int e = -126; e <= 127; ++e) check_log(worst, std::ldexp(1.0f, e));
  // Neighbours of 1 and of each power of two (where the reduction switches exponent).
  for (int e = -126; e <= 127; ++e) {
    float up = std::ldexp(1.0f, e), down = up;
    for (int k = 0; k < 64; ++k) {
      up = std::nextafter(up, FLT_MAX);
      if (e > -126) down = std::nextafter(down, 0.0f);
      check_log(worst, up);
      check_log(worst, down);
    }
  }
  // Both sides of the √½ and √2 boundaries of the reduced mantissa, in several binades.
  for (float boundary : {0x1.6a09e6p-1f, 0x1.6a09e6p+0f, 0x1.6a09e6p-100f, 0x1.6a09e6p+100f}) {
    float up = boundary, down = boundary;
    for (int k = 0; k < 256; ++k) {
      check_log(worst, up);
      check_log(worst, down);
      up = std::nextafter(up, FLT_MAX);
      down = std::nextafter(down, 0.0f);
    }
  }
  // The worst input of an exhaustive run over all normal floats (2 ulp): pinned so a regression
  // at the known hardest point is caught by name.
  check_log(worst, 0x1.4924fep-1f);
  EXPECT_LE(worst.ulps, kMaxUlp) << worst.describe();
  EXPECT_EQ(log_positive(1.0f), 0.0f);
}

TEST(VectorExpLog, InfinityAndNanPassThrough) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(log_positive(inf), inf);
  EXPECT_TRUE(std::isnan(log_positive(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(log_positive(-std::numeric_limits<float>::quiet_NaN())));
  // A NaN with payload bits just above +∞'s must not be mistaken for a finite number.
  EXPECT_TRUE(std::isnan(log_positive(std::bit_cast<float>(0x7f800001u))));
  EXPECT_TRUE(std::isnan(log_positive(std::bit_cast<float>(0x7fffffffu))));
}

// ---------------------------------------------------------------------------------------------
// exp_nonpositive: domain x ≤ 0; results for x < −87 are flushed to +0; NaN stays NaN; −∞ → 0.

TEST(VectorExpExp, WithinTwoUlpOnStridedBitSweepOfTheNormalRange) {
  // Every 997th float bit pattern from −0 down to −87: dense near 0 (including tiny and
  // subnormal x, whose result must be exactly 1 within the bound).
  WorstCase worst;
  const std::uint32_t first = std::bit_cast<std::uint32_t>(-0.0f), last = std::bit_cast<std::uint32_t>(-87.0f);
  for (std::uint32_t bits = first; bits <= last; bits += 997u) check_exp(worst, std::bit_cast<float>(bits));
  check_exp(worst, -87.0f);
  EXPECT_LE(worst.ulps, kMaxUlp) << worst.describe();
}

TEST(VectorExpExp, WithinTwoUlpAndRelativeBoundOnUniformSweep) {
  // The bit sweep is thin at large |x|; a uniform sweep in value covers [−87, 0] evenly. The
  // relative error against the exact (double) exp is at most 2 ulp plus the reference's own
  // half-ulp rounding, and one float ulp is at most 2⁻²³ of the value.
  constexpr int kSteps = 1 << 20;
  constexpr double kMaxRelative = 2.5 * 0x1p-23;
  WorstCase worst;
  double worst_relative = 0.0;
  float worst_relative_x = 0.0f;
  for (int i = 0; i <= kSteps; ++i) {
    const float x = static_cast<float>(-87.0 * i / kSteps);
    check_exp(worst, x);
    const double exact = std::exp(static_cast<double>(x));
    const double relative = std::abs(static_cast<double>(exp_nonpositive(x)) - exact) / exact;
    if (relative > worst_relative) {
      worst_relative = relative;
      worst_relative_x = x;
    }
  }
  EXPECT_LE(worst.ulps, kMaxUlp) << worst.describe();
  EXPECT_LE(worst_relative, kMaxRelative) << "at x=" << worst_relative_x;
}

// Every float in a window of 2·half_width around `center` (all of them ≤ 0).
template <class Fn>
void for_each_float_around(float center, int half_width, Fn&& fn) {
  float x = center;
  for (int k = 0; k < half_width; ++k) x = std::nextafter(x, 0.0f);
  for (int k = 0; k < 2 * half_width && x >= -87.0f; ++k) {
    fn(x);
    x = std::nextafter(x, -FLT_MAX);
  }
}

TEST(VectorExpExp, WithinTwoUlpAroundEveryRangeReductionSwitch) {
  // n = round(x/ln2) changes at x = −(k + ½)·ln2; r jumps from −ln2/2 to +ln2/2 there and the
  // 2ⁿ scale doubles, so an error in the reduction shows up first next to these points.
  WorstCase worst;
  for (int k = 0; k <= 125; ++k)
    for_each_float_around(static_cast<float>(-(k + 0.5) * std::log(2.0)), 2048, [&](float x) { check_exp(worst, x); });
  EXPECT_LE(worst.ulps, kMaxUlp) << worst.describe();
}

TEST(VectorExpExp, ZeroGivesExactlyOne) {
  // Not a separate promise of the header, but implied by its bound (1 is exact) and relied on by
  // the cross-entropy: the max term contributes exp(0) = 1, so Σ exp(x_k − max) ≥ 1 stays inside
  // log_positive's domain.
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-std::numeric_limits<float>::denorm_min()), 1.0f);
}

TEST(VectorExpExp, NeverRisesAsXDecreasesBeyondOneUlp) {
  // The header promises no exact monotonicity, and there is none: an exhaustive run finds ~2900
  // adjacent pairs in [−0.25, −0.016] where the result rises by 1 ulp (within the 2-ulp error).
  // What must hold is that no step back exceeds 1 ulp; a glitch at a reduction switch or in the
  // scale would break that. Swept float by float in windows at every switch and in the region
  // where the 1-ulp reversals live, plus a uniform sweep that must be strictly non-increasing
  // because its step (8e-5 relative) far exceeds twice the error bound.
  std::int64_t worst_rise = 0;
  float worst_x = 0.0f;
  auto sweep_window = [&](float center, int half_width) {
    bool first = true;
    float previous = 0.0f;
    for_each_float_around(center, half_width, [&](float x) {
      const float y = exp_nonpositive(x);
      if (!first && y > previous && ordered(y) - ordered(previous) > worst_rise) {
        worst_rise = ordered(y) - ordered(previous);
        worst_x = x;
      }
      first = false;
      previous = y;
    });
  };
  for (int k = 0; k <= 125; ++k) sweep_window(static_cast<float>(-(k + 0.5) * std::log(2.0)), 2048);
  sweep_window(-0.0615f, 1 << 17);
  sweep_window(-0.0155f, 1 << 16);
  sweep_window(-87.0f + 0x1p-17f, 1 << 10);
  EXPECT_LE(worst_rise, 1) << "exp_nonpositive rose by " << worst_rise << " ulp at x=" << worst_x;

  constexpr int kSteps = 1 << 20;
  float previous = exp_nonpositive(0.0f);
  for (int i = 1; i <= kSteps; ++i) {
    const float x = static_cast<float>(-87.0 * i / kSteps);
    const float y = exp_nonpositive(x);
    ASSERT_LT(y, previous) << "not decreasing at x=" << x;
    previous = y;
  }
}

TEST(VectorExpExp, BelowMinus87FlushesToZero) {
  // The documented cut: x < −87 returns +0 exactly (libm would give ≤ 1.65e-38 there).
  EXPECT_GT(exp_nonpositive(-87.0f), 0.0f);
  EXPECT_GE(exp_nonpositive(-87.0f), FLT_MIN);
  for (float x = std::nextafter(-87.0f, -FLT_MAX); x >= -200.0f; x = std::nextafter(x, -FLT_MAX)) {
    const float y = exp_nonpositive(x);
    ASSERT_EQ(std::bit_cast<std::uint32_t>(y), 0u) << "x=" << x << " gave " << y;
    if (x < -88.5f) x = std::nextafter(x - 0.37f, -FLT_MAX);  // thinner beyond the cut's neighbourhood
  }
  EXPECT_EQ(std::bit_cast<std::uint32_t>(exp_nonpositive(-FLT_MAX)), 0u);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(exp_nonpositive(-std::numeric_limits<float>::infinity())), 0u);
}

TEST(VectorExpExp, NanStaysNan) {
  EXPECT_TRUE(std::isnan(exp_nonpositive(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(exp_nonpositive(-std::numeric_limits<float>::quiet_NaN())));
}

// ---------------------------------------------------------------------------------------------
// dispatch_cpu_dtype: float32 runs with MXCSR flush-to-zero (FTZ) and denormals-are-zero (DAZ)
// on, and the caller's MXCSR comes back unchanged on return or throw; float64 leaves it alone.

#if defined(__x86_64__)
constexpr unsigned kFtz = 0x8000, kDaz = 0x0040, kRoundingMask = 0x6000, kRoundDown = 0x2000;

// The MXCSR's control bits (modes and exception masks). Bits 0–5 are sticky exception *status*
// flags that any arithmetic may raise (a float64 subnormal raises "denormal"); they are not part
// of the mode the guard promises to restore, so comparisons ignore them.
unsigned csr_mode() { return _mm_getcsr() & ~0x3fu; }

// Each test starts from a known caller mode (IEEE subnormals) and leaves the process's mode as it
// found it, even if an assertion fails midway.
class VectorExpSubnormalFlush : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = _mm_getcsr();  // full register, status flags included
    _mm_setcsr(saved_ & ~(kFtz | kDaz));
  }
  void TearDown() override { _mm_setcsr(saved_); }

 private:
  unsigned saved_ = 0;
};

Tensor float_tensor() { return Tensor::zeros({2}); }
Tensor double_tensor() { return Tensor::zeros({2}, Device::cpu(), DType::Float64); }

TEST_F(VectorExpSubnormalFlush, Float32DispatchTurnsBothModesOnAndRestores) {
  const unsigned before = csr_mode();
  ASSERT_EQ(before & (kFtz | kDaz), 0u);
  unsigned inside = 0;
  bool ran_as_float = false;
  kernels::dispatch_cpu_dtype(float_tensor(), [&](auto zero) {
    ran_as_float = std::is_same_v<decltype(zero), float>;
    inside = csr_mode();
  });
  EXPECT_TRUE(ran_as_float);
  EXPECT_EQ(inside & kFtz, kFtz) << "flush-to-zero not on inside a float32 kernel";
  EXPECT_EQ(inside & kDaz, kDaz) << "denormals-are-zero not on inside a float32 kernel";
  EXPECT_EQ(inside & ~(kFtz | kDaz), before & ~(kFtz | kDaz)) << "other MXCSR bits changed";
  EXPECT_EQ(csr_mode(), before) << "caller's MXCSR not restored";
}

TEST_F(VectorExpSubnormalFlush, RestoresTheCallersExactModeIncludingPartialFlagsAndRounding) {
  // A caller that already had FTZ (but not DAZ) and a non-default rounding mode must get exactly
  // that back: restoring to "all flags off" or to a default MXCSR would be wrong.
  _mm_setcsr((_mm_getcsr() & ~(kDaz | kRoundingMask)) | kFtz | kRoundDown);
  const unsigned before = csr_mode();
  unsigned inside = 0;
  kernels::dispatch_cpu_dtype(float_tensor(), [&](auto) { inside = csr_mode(); });
  EXPECT_EQ(inside & (kFtz | kDaz), kFtz | kDaz);
  EXPECT_EQ(inside & kRoundingMask, kRoundDown) << "the guard must not touch the rounding mode";
  EXPECT_EQ(csr_mode(), before);
}

TEST_F(VectorExpSubnormalFlush, NestedDispatchRestoresEachLevel) {
  const unsigned before = csr_mode();
  unsigned after_inner_float = 0, inside_double_in_float = 0, inside_float_in_double = 0, after_inner_in_double = 0;
  kernels::dispatch_cpu_dtype(float_tensor(), [&](auto) {
    kernels::dispatch_cpu_dtype(float_tensor(), [&](auto) {});
    after_inner_float = csr_mode();
    kernels::dispatch_cpu_dtype(double_tensor(), [&](auto) { inside_double_in_float = csr_mode(); });
  });
  EXPECT_EQ(after_inner_float & (kFtz | kDaz), kFtz | kDaz) << "inner float32 call switched the outer one's mode off";
  EXPECT_EQ(inside_double_in_float & (kFtz | kDaz), kFtz | kDaz) << "float64 call inside float32 changed the mode";
  EXPECT_EQ(csr_mode(), before);

  kernels::dispatch_cpu_dtype(double_tensor(), [&](auto) {
    kernels::dispatch_cpu_dtype(float_tensor(), [&](auto) { inside_float_in_double = csr_mode(); });
    after_inner_in_double = csr_mode();
  });
  EXPECT_EQ(inside_float_in_double & (kFtz | kDaz), kFtz | kDaz);
  EXPECT_EQ(after_inner_in_double, before) << "float32 call inside float64 did not restore the float64 mode";
  EXPECT_EQ(csr_mode(), before);
}

TEST_F(VectorExpSubnormalFlush, RestoresWhenTheKernelThrows) {
  const unsigned before = csr_mode();
  EXPECT_THROW(kernels::dispatch_cpu_dtype(float_tensor(), [](auto) { throw std::runtime_error("kernel failed"); }),
               std::runtime_error);
  EXPECT_EQ(csr_mode(), before);
}

TEST_F(VectorExpSubnormalFlush, Float64DispatchLeavesModeAndSubnormalsAlone) {
  const unsigned before = csr_mode();
  unsigned inside = 0;
  bool ran_as_double = false;
  double halved = 0.0;
  kernels::dispatch_cpu_dtype(double_tensor(), [&](auto zero) {
    ran_as_double = std::is_same_v<decltype(zero), double>;
    inside = csr_mode();
    volatile double smallest_normal = DBL_MIN;  // volatile: the product must happen at run time
    halved = smallest_normal * 0.5;
  });
  EXPECT_TRUE(ran_as_double);
  EXPECT_EQ(inside, before);
  EXPECT_EQ(halved, DBL_MIN / 2) << "float64 kernels must keep IEEE subnormals";
  EXPECT_EQ(csr_mode(), before);
}

TEST_F(VectorExpSubnormalFlush, Float32DispatchFlushesSubnormalResultsAndOperands) {
  // Run-time arithmetic (volatile) inside the guard: a subnormal result becomes 0 (FTZ), and a
  // subnormal operand reads as 0 even where the result would be normal (DAZ).
  volatile float smallest_normal = FLT_MIN;
  volatile float subnormal = 0x1p-140f;
  float ftz_result = -1.0f, daz_result = -1.0f;
  kernels::dispatch_cpu_dtype(float_tensor(), [&](auto) {
    ftz_result = smallest_normal * 0.5f;
    daz_result = subnormal * 0x1p40f;
  });
  EXPECT_EQ(ftz_result, 0.0f);
  EXPECT_EQ(daz_result, 0.0f);
  // Outside the guard the same operations keep IEEE behaviour (so the checks above can fail).
  EXPECT_EQ(smallest_normal * 0.5f, FLT_MIN / 2);
  EXPECT_EQ(subnormal * 0x1p40f, 0x1p-100f);
}

TEST_F(VectorExpSubnormalFlush, PublicFloat32OpFlushesAndRestoresCallerMode) {
  // kernels::axpby is a public op whose CPU path goes through dispatch_cpu_dtype. With α = 2⁴⁰:
  // a subnormal a (2⁻¹⁴⁰) gives 0 instead of the normal 2⁻¹⁰⁰ (DAZ); with α = ½, FLT_MIN gives
  // 0 instead of a subnormal (FTZ); an ordinary value is unaffected.
  const unsigned before = csr_mode();
  const Tensor a = Tensor::from_vector(std::vector<float>{0x1p-140f, 1.0f}, {2});
  const Tensor b = Tensor::zeros({2});
  Tensor out = Tensor::zeros({2});
  kernels::axpby(0x1p40, a, 0.0, b, out);
  EXPECT_EQ(csr_mode(), before);
  std::vector<float> got = out.to_vector();
  EXPECT_EQ(got[0], 0.0f) << "subnormal operand was not treated as zero";
  EXPECT_EQ(got[1], 0x1p40f);

  const Tensor c = Tensor::from_vector(std::vector<float>{FLT_MIN, -FLT_MIN}, {2});
  kernels::axpby(0.5, c, 0.0, b, out);
  EXPECT_EQ(csr_mode(), before);
  got = out.to_vector();
  EXPECT_EQ(got[0], 0.0f) << "subnormal result was not flushed";
  EXPECT_EQ(got[1], 0.0f) << "subnormal result was not flushed";
}

TEST_F(VectorExpSubnormalFlush, PublicFloat64OpKeepsSubnormals) {
  const unsigned before = csr_mode();
  const Tensor a = Tensor::from_vector(std::vector<double>{0x1p-1060, DBL_MIN}, {2});
  const Tensor b = Tensor::zeros({2}, Device::cpu(), DType::Float64);
  Tensor out = Tensor::zeros({2}, Device::cpu(), DType::Float64);
  kernels::axpby(0x1p100, a, 0.0, b, out);
  EXPECT_EQ(csr_mode(), before);
  std::vector<double> got = out.to_double_vector();
  EXPECT_EQ(got[0], 0x1p-960) << "float64 subnormal operand was flushed";
  kernels::axpby(0.5, a, 0.0, b, out);
  got = out.to_double_vector();
  EXPECT_EQ(got[1], DBL_MIN / 2) << "float64 subnormal result was flushed";
}

#else
TEST(VectorExpSubnormalFlush, RequiresX86) {
  GTEST_SKIP() << "MXCSR flush modes are x86-64 specific; FlushSubnormals is a no-op on this architecture";
}
#endif

}  // namespace
}  // namespace latf
