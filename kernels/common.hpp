#pragma once
// Conventions shared by every kernel family:
// - Outputs are preallocated by the caller with the exact shape; kernels never allocate them.
// - Backward kernels ACCUMULATE (+=) into gradient tensors; an undefined gradient tensor means
//   "not needed" and is skipped. Zeroing is the caller's (the tape's) job.
// - The CPU path runs in float32 or float64 (float64 serves the gradient checker); the CUDA path
//   runs in float32. All operands of one call share a device and dtype.
#include <cmath>
#include <cstdint>

#include "engine/error.hpp"
#include "engine/tensor.hpp"

namespace latf::kernels {

// Calls fn(T{}) with T = float or double according to the CPU tensor's dtype.
template <class Fn>
void dispatch_cpu_dtype(const Tensor& t, Fn&& fn) {
  if (t.dtype() == DType::Float32) {
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
