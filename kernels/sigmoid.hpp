#pragma once
// y = scale · σ(x) elementwise. With scale = −10 it is SPIB's input-dependent log-variance head,
// log σ² = −10·sigmoid(Linear(h)), which keeps the variance in (e⁻¹⁰, 1).
#include "kernels/common.hpp"

namespace latf::kernels {

void scaled_sigmoid_forward(const Tensor& x, double scale, Tensor& y);
// Accumulates dy · dy/dx into dx, from the forward output y.
void scaled_sigmoid_backward(const Tensor& y, double scale, const Tensor& dy, Tensor& dx);

}  // namespace latf::kernels
