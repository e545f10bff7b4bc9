#pragma once
// Finite-difference gradient checker. The function is evaluated on float64 CPU tensors, so
// central differences are accurate to ~1e-8 and disagreements point at real bugs. Outputs of any
// shape are contracted with fixed random cotangents r: L = Σ_o ⟨r_o, f_o⟩, and every element
// of every input is compared: ∂L/∂x_i (backward) against (L(x+h e_i) − L(x−h e_i)) / 2h.
#include <functional>
#include <string>
#include <vector>

#include "autodiff/tape.hpp"

namespace latf::autodiff {

using TapeFunction = std::function<std::vector<Var>(Tape& tape, const std::vector<Var>& inputs)>;

struct GradientCheckOptions {
  double step = 1e-6;
  double tolerance = 1e-6;  // on |analytic − numeric| / max(1, |numeric|)
  std::uint64_t seed = 7;
  std::vector<bool> differentiable;  // per input; empty = all inputs
};

struct GradientCheckResult {
  bool passed = true;
  double worst_error = 0.0;
  std::string report;  // the worst element, or every failing one (bounded)
};

// inputs: float64 CPU tensors. Non-differentiable inputs enter the tape as constants.
GradientCheckResult check_gradients(const TapeFunction& function, const std::vector<Tensor>& inputs,
                                    const GradientCheckOptions& options = {});

}  // namespace latf::autodiff
