#pragma once
// Small elementwise building blocks used by loss composition and backward rules.
#include "kernels/common.hpp"

namespace latf::kernels {

// out = alpha·a + beta·b (all the same shape).
void axpby(double alpha, const Tensor& a, double beta, const Tensor& b, Tensor& out);
// y += alpha·x (the same shape). Backward rules use it to accumulate gradients.
void accumulate_scaled(double alpha, const Tensor& x, Tensor& y);

}  // namespace latf::kernels
