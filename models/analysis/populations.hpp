#pragma once
// State populations (fractions of the weighted samples in each discrete state) with block-averaged
// error bars: the labels, in their given order, are cut into `blocks` contiguous blocks, each
// block's own fractions are computed, and error = sd over blocks (ddof = 1) / sqrt(blocks). A
// block whose weights are all zero is left out; with fewer than two usable blocks the errors are
// NaN. Used for populations vs. temperature from the decoded states of generated samples (§8).
#include <cstdint>
#include <vector>

namespace latf::analysis {

struct Populations {
  std::vector<double> mean;   // fraction of the total weight in each state; sums to 1
  std::vector<double> error;  // standard error of each fraction
};

// labels in [0, num_states); weights one per label, finite, >= 0, not all zero;
// blocks >= 2 and <= labels.size().
Populations state_populations(const std::vector<std::int64_t>& labels, int num_states,
                              const std::vector<float>* weights = nullptr, int blocks = 10);

}  // namespace latf::analysis
