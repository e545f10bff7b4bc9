#pragma once
// Device building blocks of the fused MLP (one thread per row), shared by the mlp and coupling
// kernels. Weights are read from shared memory; the hidden layer of width H is
// held in registers and the second hidden layer is streamed (never stored), so a row's
// activations stay on chip. Backward recomputes the forward and reduces weight gradients per
// warp (shuffles) into per-block shared accumulators, flushed to global memory once per block.
#include "kernels/activation_math.hpp"
#include "kernels/mlp.hpp"

namespace latf::kernels::device {

constexpr unsigned kFullMask = 0xffffffffu;

// Adds `value` of every lane of the warp into *target (shared memory); all 32 lanes must call.
__device__ __forceinline__ void warp_accumulate(float* target, float value) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(kFullMask, value, offset);
  if ((threadIdx.x & 31) == 0) atomicAdd(target, value);
}

// y = W3 φ(W2 φ(W1 x + b1) + b2) + b3 for one row; x has s.in entries, y gets s.out.
template <int H>
__device__ void mlp_row_forward(const float* p, const MlpShape& s, float alpha, const float* x, float* y) {
  float h1[H];
  for (int i = 0; i < H; ++i) {
    float acc = p[s.bias1() + i];
    for (int j = 0; j < s.in; ++j) acc = fmaf(p[s.weight1() + i * s.in + j], x[j], acc);
    h1[i] = activate(acc, Activation::LeakyReLU, alpha);
  }
  for (int k = 0; k < s.out; ++k) y[k] = p[s.bias3() + k];
  for (int o = 0; o < H; ++o) {
    float acc = p[s.bias2() + o];
#pragma unroll
    for (int i = 0; i < H; ++i) acc = fmaf(p[s.weight2() + o * H + i], h1[i], acc);
    const float h2 = activate(acc, Activation::LeakyReLU, alpha);
    for (int k = 0; k < s.out; ++k) y[k] = fmaf(p[s.weight3() + k * H + o], h2, y[k]);
  }
}

// Backward of mlp_row_forward for one row given dy (s.out entries): adds the input gradient to
// dx (s.in entries, registers) and the parameter gradients, warp-reduced, to grad_acc (shared,
// laid out like the parameters). Inactive rows pass dy = 0 and still take part (shuffles).
template <int H>
__device__ void mlp_row_backward(const float* p, const MlpShape& s, float alpha, const float* x, const float* dy,
                                 float* dx, float* grad_acc) {
  float h1[H];
  for (int i = 0; i < H; ++i) {
    float acc = p[s.bias1() + i];
    for (int j = 0; j < s.in; ++j) acc = fmaf(p[s.weight1() + i * s.in + j], x[j], acc);
    h1[i] = activate(acc, Activation::LeakyReLU, alpha);
  }
  float dh1[H];
#pragma unroll
  for (int i = 0; i < H; ++i) dh1[i] = 0.f;
  for (int k = 0; k < s.out; ++k) warp_accumulate(&grad_acc[s.bias3() + k], dy[k]);
  for (int o = 0; o < H; ++o) {
    float acc = p[s.bias2() + o];
#pragma unroll
    for (int i = 0; i < H; ++i) acc = fmaf(p[s.weight2() + o * H + i], h1[i], acc);
    const float h2 = activate(acc, Activation::LeakyReLU, alpha);
    float dh2 = 0.f;
    for (int k = 0; k < s.out; ++k) {
      dh2 = fmaf(p[s.weight3() + k * H + o], dy[k], dh2);
      warp_accumulate(&grad_acc[s.weight3() + k * H + o], dy[k] * h2);
    }
    const float dpre2 = dh2 * activation_slope(h2, Activation::LeakyReLU, alpha);
    warp_accumulate(&grad_acc[s.bias2() + o], dpre2);
#pragma unroll
    for (int i = 0; i < H; ++i) {
      dh1[i] = fmaf(p[s.weight2() + o * H + i], dpre2, dh1[i]);
      warp_accumulate(&grad_acc[s.weight2() + o * H + i], dpre2 * h1[i]);
    }
  }
  for (int i = 0; i < H; ++i) {
    const float dpre1 = dh1[i] * activation_slope(h1[i], Activation::LeakyReLU, alpha);
    warp_accumulate(&grad_acc[s.bias1() + i], dpre1);
    for (int j = 0; j < s.in; ++j) {
      dx[j] = fmaf(p[s.weight1() + i * s.in + j], dpre1, dx[j]);
      warp_accumulate(&grad_acc[s.weight1() + i * s.in + j], dpre1 * x[j]);
    }
  }
}

// Block-cooperative copies between global and shared memory.
__device__ __forceinline__ void block_copy(float* dst, const float* src, std::int64_t n) {
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
}
__device__ __forceinline__ void block_zero(float* dst, std::int64_t n) {
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) dst[i] = 0.f;
}
__device__ __forceinline__ void block_flush(float* global, const float* shared, std::int64_t n) {
  for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) atomicAdd(&global[i], shared[i]);
}

// One model's six operands (packed or separate, kernels/mlp.hpp) into one block of shared memory
// in the packed MlpShape layout, which the row functions above read.
__device__ __forceinline__ void block_load_operands(float* packed, const MlpOperands<const float>& p,
                                                    const MlpShape& s) {
  for (int k = 0; k < MlpOperands<const float>::kCount; ++k) block_copy(packed + s.offset(k), p.part[k], s.count(k));
}
// Adds a packed block of parameter gradients to every operand gradient that is wanted (non-null).
__device__ __forceinline__ void block_flush_operands(const MlpOperands<float>& grads, const float* packed,
                                                     const MlpShape& s) {
  for (int k = 0; k < MlpOperands<float>::kCount; ++k)
    if (grads.part[k] != nullptr) block_flush(grads.part[k], packed + s.offset(k), s.count(k));
}

}  // namespace latf::kernels::device
