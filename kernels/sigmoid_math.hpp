#pragma once
#include <cmath>

#include "engine/hd.hpp"

namespace latf::kernels {

// scale · σ(x), evaluated without overflow for large |x|.
template <class T>
LATF_HD T scaled_sigmoid(T x, T scale) {
  using std::exp;
  if (x >= T(0)) return scale / (T(1) + exp(-x));
  const T e = exp(x);
  return scale * e / (T(1) + e);
}

// d/dx of scale · σ(x), from the output y = scale · σ(x): scale · σ (1 − σ) = y (1 − y / scale).
template <class T>
LATF_HD T scaled_sigmoid_slope(T y, T scale) {
  return scale == T(0) ? T(0) : y * (T(1) - y / scale);
}

}  // namespace latf::kernels
