#pragma once
#include "engine/hd.hpp"

namespace latf::kernels {

enum class Activation { Identity = 0, ReLU = 1, LeakyReLU = 2 };

template <class T>
LATF_HD T activate(T pre, Activation act, T alpha) {
  if (act == Activation::Identity) return pre;
  if (pre > T(0)) return pre;
  return act == Activation::ReLU ? T(0) : alpha * pre;
}

// d act / d pre from the activation's OUTPUT: for ReLU and LeakyReLU with α > 0, y > 0 exactly
// when pre > 0, so backward needs only the saved output (no pre-activation buffer).
template <class T>
LATF_HD T activation_slope(T out, Activation act, T alpha) {
  if (act == Activation::Identity || out > T(0)) return T(1);
  return act == Activation::ReLU ? T(0) : alpha;
}

}  // namespace latf::kernels
