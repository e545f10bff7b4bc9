#pragma once
// Conventions shared by every kernel family:
// - Outputs are preallocated by the caller with the exact shape; kernels never allocate them.
// - Backward kernels ACCUMULATE (+=) into gradient tensors; an undefined gradient tensor means
//   "not needed" and is skipped. Zeroing is the caller's (the tape's) job.
// - The CPU path runs in float32 or float64 (float64 serves the gradient checker); the CUDA path
//   runs in float32. All operands of one call share a device and dtype.
// - Float32 CPU kernels flush subnormal operands and results to zero (see FlushSubnormals).
#include <cmath>
#include <cstdint>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "engine/error.hpp"
#include "engine/tensor.hpp"

namespace latf::kernels {

// Float32 CPU kernels run with the SSE flush-to-zero and denormals-are-zero modes on. On x86 every
// instruction that reads or writes a subnormal (|v| < 1.2e-38) takes a microcode assist of about
// a hundred cycles, and training makes such values routinely: the prior's upstream gradient is
// β·w/N ≈ 1e-7, times responsibilities that exp_nonpositive gives down to e^-87, made the
// VampPrior's backward up to 5× slower. Values that small are far below the resolution of any sum
// or update they enter, so they become 0. The caller's mode is restored on return (or throw);
// float64 (the gradient checker) keeps IEEE subnormals.
class FlushSubnormals {
 public:
#if defined(__SSE2__) && !defined(__CUDA_ARCH__)
  FlushSubnormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero); }
  ~FlushSubnormals() { _mm_setcsr(saved_); }

 private:
  static constexpr unsigned kFlushToZero = 0x8000, kDenormalsAreZero = 0x0040;
  unsigned saved_;
#endif
 public:
  FlushSubnormals(const FlushSubnormals&) = delete;
  FlushSubnormals& operator=(const FlushSubnormals&) = delete;
};

// Calls fn(T{}) with T = float or double according to the CPU tensor's dtype.
template <class Fn>
void dispatch_cpu_dtype(const Tensor& t, Fn&& fn) {
  if (t.dtype() == DType::Float32) {
    const FlushSubnormals mode;
    fn(float{});
  } else {
    fn(double{});
  }
}

inline void require_same_place(const Tensor& reference, const char* reference_name, const Tensor& other,
                               const char* other_name) {
  if (other.defined()) require_same_device(reference, other, reference_name, other_name);
}

// Rejects NaN or Inf in an input (one host pass; used at the data boundary, not inside hot loops).
void require_finite(const Tensor& t, const char* operand);

[[noreturn]] inline void no_cuda_backend(const char* op) {
  throw BackendError(concat(op, ": tensor is on a CUDA device but this build has no CUDA backend"));
}

template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace latf::kernels
