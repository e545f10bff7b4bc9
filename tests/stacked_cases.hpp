#pragma once
// Parameters shared by the CPU tests of the stacked loss-side ops and their CPU-vs-CUDA twins:
// the case structs with their readable names, and how the GPU tests place the two sides.
#include <gtest/gtest.h>

#include <string>

#include "tests/support.hpp"

namespace latf::testing {

// Stacked Gaussian family: M models of N rows, latent dimension d, K VampPrior components; one
// log-variance scalar per model or one per element.
struct StackedGaussianCase {
  std::int64_t models, n, d, k;
  bool scalar_lv;
};
inline std::string stacked_gaussian_case_name(const ::testing::TestParamInfo<StackedGaussianCase>& info) {
  const StackedGaussianCase& c = info.param;
  return "M" + std::to_string(c.models) + "_N" + std::to_string(c.n) + "_d" + std::to_string(c.d) + "_K" +
         std::to_string(c.k) + (c.scalar_lv ? "_modelScalarLV" : "_elementLV");
}

// Stacked cross-entropy, reductions and tilted density: M models of N rows and K classes.
struct StackedLossCase {
  std::int64_t models, n, k;
  bool weighted;
};
inline std::string stacked_loss_case_name(const ::testing::TestParamInfo<StackedLossCase>& info) {
  const StackedLossCase& c = info.param;
  return "M" + std::to_string(c.models) + "_N" + std::to_string(c.n) + "_K" + std::to_string(c.k) +
         (c.weighted ? "_weighted" : "_unweighted");
}

// Places a float32 CPU tensor where a side of a CPU-vs-CUDA comparison runs: float64 on the CPU,
// float32 on CUDA (undefined stays undefined).
inline Tensor place_for_comparison(const Tensor& t, const Device& device) {
  if (!t.defined()) return t;
  return device.is_cpu() ? as_double(t) : t.to(device);
}
inline DType comparison_dtype(const Device& device) { return device.is_cpu() ? DType::Float64 : DType::Float32; }
// A gradient buffer pre-filled with a pattern (a kernel that overwrites instead of accumulating fails).
inline Tensor prefilled_gradient(const Shape& shape, std::uint64_t seed, const Device& device, DType dtype) {
  return random_tensor(shape, seed, -0.5, 0.5).to(dtype).to(device);
}

}  // namespace latf::testing
