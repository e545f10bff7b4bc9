#pragma once
// KL divergence between two sets of 2-D samples, computed exactly as the LaTF authors do
// (METHOD §8): a shared bins × bins histogram over the FIRST set's range, epsilon added to
// every bin of both histograms, each normalised to sum 1, then KL = Σ p log(p / q) with the
// natural log (result in nats).
//
// Binning follows numpy.histogram2d(x, y, bins, range=[[min_x, max_x], [min_y, max_y]]) of p:
// - edges are numpy.linspace(min, max, bins + 1) per axis; bins are [e_k, e_{k+1}) except the
//   last, which also holds the maximum;
// - points of q outside p's range are DROPPED (numpy's range argument does this), so q is
//   normalised over p's range only; mass q puts elsewhere does not raise the divergence;
// - an axis on which every p sample has the same value gets the range [v − 0.5, v + 0.5], as
//   numpy does for a zero-width range.
// Optional weights play the role of numpy.histogram2d's `weights`.
#include <vector>

#include "engine/tensor.hpp"

namespace latf::analysis {

// p_samples [N, 2] and q_samples [M, 2]: CPU float32, finite, N, M >= 1. bins >= 1;
// epsilon >= 0 (with epsilon = 0 an empty q bin under a non-empty p bin gives +inf, and an empty
// p bin contributes 0). Weights: one per sample, finite, >= 0.
double histogram_kl_divergence(const Tensor& p_samples, const Tensor& q_samples, int bins = 100,
                               double epsilon = 1e-10, const std::vector<float>* p_weights = nullptr,
                               const std::vector<float>* q_weights = nullptr);

}  // namespace latf::analysis
