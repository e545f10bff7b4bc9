#pragma once
// GMRQ, the generalized matrix Rayleigh quotient of McGibbon & Pande (J. Chem. Phys. 142, 124105,
// 2015), for a Markov state model on discrete state trajectories (METHOD §8).
//
// Estimator, applied alike to training and validation data:
// - C(τ)_ij counts the pairs (s_t = i, s_{t+τ} = j) within each trajectory (t = 0 .. len−τ−1);
//   trajectories with len <= τ contribute nothing;
// - it is symmetrised, (C + Cᵀ)/2, the simple reversible estimate, and divided by the number of
//   pairs;
// - C(0) = diag(π) with π_i the population of state i over both ends of those same pairs (the
//   row sums of the symmetrised C(τ)), so that C(0)⁻¹C(τ) is a reversible stochastic matrix whose
//   leading eigenvalue is exactly 1.
// Training: solve C(τ)v = λ C(0)v, keep the `rank` largest λ (the stationary λ = 1 included) and
// their eigenvectors V, normalised so that Vᵀ C(0) V = I. train_score = Σ of those λ.
// Validation: score = Tr[(Vᵀ C_val(0) V)⁻¹ (Vᵀ C_val(τ) V)], which equals train_score on the
// training data itself.
//
// States never visited in training (π_i = 0, in the pairs) are left out of the eigenproblem; the
// eigenvectors are taken as zero on them, so validation pairs touching such a state add nothing to
// C_val(τ), and a validation visit to them adds nothing to C_val(0). If Vᵀ C_val(0) V is singular
// (the validation data misses states the eigenvectors need), validation_score is NaN.
#include <cstdint>
#include <vector>

namespace latf::analysis {

struct GmrqResult {
  double train_score = 0.0;
  double validation_score = 0.0;
  std::vector<double> eigenvalues;  // the `rank` leading training eigenvalues, largest first
};

// Labels in [0, num_states); lag >= 1 and shorter than at least one trajectory of each set;
// 1 <= rank <= number of states populated in training.
GmrqResult gmrq(const std::vector<std::vector<std::int64_t>>& train_trajectories,
                const std::vector<std::vector<std::int64_t>>& validation_trajectories, int num_states, int lag,
                int rank);

}  // namespace latf::analysis
