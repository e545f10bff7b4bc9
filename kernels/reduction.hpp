#pragma once
// Weighted sums of all elements: the last step of every loss (mean over a batch of per-sample
// terms with per-sample weights).
//   x any shape, weights the same shape or undefined (every w_i = 1), out [1].
// Accuracy: the CPU sums in double with Neumaier compensation (for float and double inputs), so
// a float32 sum of millions of terms is exact to the final rounding; CUDA sums in double with
// CUB (a tree reduction, error ~ log n ulp of double) and rounds once to float.
#include "kernels/common.hpp"

namespace latf::kernels {

// Per-model form (model_weighted_mean of autodiff/ops.hpp): an output [M] with M = x.dim(0) asks
// for one sum per model, out_m = scale · Σ_i w_mi x_mi over the numel(x)/M elements of the slice
// x[m] (weights likewise), and dout is then [M] too; [1] keeps the sum of everything (for
// M = 1 the two agree). The CPU runs the single-form sum on each slice, so out_m equals the
// single form on x[m] bit for bit; CUDA reduces each model in its own CUB segment (in double)
// and its backward is one launch with the model as blockIdx.y.

// out = scale · Σ_i w_i x_i. An empty x gives 0.
void weighted_sum_forward(const Tensor& x, const Tensor& weights, double scale, Tensor& out);
// dx += scale · dout · w,  dweights += scale · dout · x (either may be undefined = not needed).
// dout [1] (or [M]) is read where it lives (on the device for CUDA, no host synchronisation).
void weighted_sum_backward(const Tensor& x, const Tensor& weights, double scale, const Tensor& dout, Tensor& dx,
                           Tensor& dweights);

}  // namespace latf::kernels
