#pragma once
// Input checks and block averaging shared by the metrics. Internal to latf_analysis.
//
// Block averaging: the samples are cut into `blocks` contiguous blocks (sizes differ by at most
// one), an estimate is formed in each block on its own, and the standard error of the mean is
// sd(block estimates, ddof = 1) / sqrt(number of blocks). Contiguous blocks (rather than a
// random split) keep the error honest for time-correlated trajectories as long as each block is
// longer than the correlation time.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace latf::analysis::detail {

// Weight of sample i: 1 without weights.
inline double weight_of(const std::vector<float>* weights, std::size_t i) {
  return weights ? static_cast<double>((*weights)[i]) : 1.0;
}

// Optional weights: exactly n entries, each finite and >= 0. Errors name `operand`.
void check_weights(const std::vector<float>* weights, std::size_t n, const char* operand);
// blocks >= 2 and at most one block per sample.
void check_blocks(int blocks, std::size_t n, const char* samples_operand);
// Values finite (NaN/Inf cannot be binned meaningfully).
void check_finite(const std::vector<float>& values, const char* operand);

struct BlockedFractions {
  std::vector<double> mean;   // weighted fraction of each category over all samples
  std::vector<double> error;  // standard error of that fraction over contiguous blocks
  double total_weight = 0.0;  // weight of the samples that fell in some category
};

// category[i] in [0, num_categories) or -1 for "in no category" (left out of every fraction).
// Fractions are normalised over the categorised samples only. A block whose categorised weight
// is zero has no fractions and is left out of the error; with fewer than two usable blocks the
// error is NaN. The caller rejects total_weight == 0.
BlockedFractions blocked_fractions(const std::vector<int>& category, int num_categories,
                                   const std::vector<float>* weights, int blocks);

}  // namespace latf::analysis::detail
