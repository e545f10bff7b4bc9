#pragma once
// The per-element formulas of the affine coupling layer (see coupling.hpp), shared by the CPU
// and CUDA implementations.
#include <cmath>

#include "engine/hd.hpp"

namespace latf::kernels {

constexpr int kCouplingMaxDim = 16;  // d of the fused kernels (register arrays)

// The log-scale map: identity (clamp ≤ 0) or the soft clamp c·tanh(v/c).
template <class T>
LATF_HD T log_scale_map(T v, T clamp) {
  using std::tanh;  // float overloads on the host too
  return clamp > T(0) ? clamp * tanh(v / clamp) : v;
}
template <class T>
LATF_HD T log_scale_map_slope(T v, T clamp) {
  using std::tanh;
  if (clamp <= T(0)) return T(1);
  const T th = tanh(v / clamp);
  return T(1) - th * th;
}

template <class T>
struct CouplingElement {
  T y;
  T log_det;  // this element's contribution to the row's log|det|
};

// One element j of a row: x_j, mask m_j, scale-net output s_j, shift-net output t_j, a_j.
template <class T>
LATF_HD CouplingElement<T> coupling_element(T x, T m, T s, T t, T a, T clamp, bool generative) {
  using std::exp;
  if (m > T(0.5)) return {x, T(0)};
  const T log_scale = log_scale_map(s * a, clamp);
  if (generative) return {x * exp(log_scale) + t, log_scale};
  return {(x - t) * exp(-log_scale), -log_scale};
}

template <class T>
struct CouplingElementGrad {
  T x;  // through the direct path only; the conditioner path is added by the caller
  T s, t, a;
};

// Gradients of one element given dy_j and the row's dlog_det.
template <class T>
LATF_HD CouplingElementGrad<T> coupling_element_backward(T x, T m, T s, T t, T a, T clamp, bool generative, T dy,
                                                         T dlog_det) {
  using std::exp;
  if (m > T(0.5)) return {dy, T(0), T(0), T(0)};
  const T pre = s * a;
  const T log_scale = log_scale_map(pre, clamp);
  T dlog_scale, dx, dt;
  if (generative) {
    const T e = exp(log_scale);
    dx = dy * e;
    dt = dy;
    dlog_scale = dy * x * e + dlog_det;
  } else {
    const T e = exp(-log_scale);
    dx = dy * e;
    dt = -dy * e;
    dlog_scale = -dy * (x - t) * e - dlog_det;
  }
  const T dpre = dlog_scale * log_scale_map_slope(pre, clamp);
  return {dx, dpre * a, dt, dpre * s};
}

}  // namespace latf::kernels
