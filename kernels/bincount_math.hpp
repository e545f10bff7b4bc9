#pragma once
// The per-row rule shared by the CPU loop and the CUDA kernel of kernels/bincount.hpp.
#include <cmath>

#include "engine/hd.hpp"

namespace latf::kernels::histogram {

// Index of the first largest of row[0 … k−1] (ties go to the lowest index, as std::max_element),
// or −1 when some entry is NaN or ±Inf: a non-finite row has no meaningful state, and the
// caller counts it apart instead of letting it fall silently into state 0.
template <class T>
LATF_HD int row_argmax(const T* row, int k) {
  int best = 0;
  for (int j = 0; j < k; ++j) {
    if (!std::isfinite(row[j])) return -1;
    if (row[j] > row[best]) best = j;
  }
  return best;
}

}  // namespace latf::kernels::histogram
