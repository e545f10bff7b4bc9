#pragma once
// Gathers a training batch on the device where the data set lives (CPU or CUDA): the rows of a
// slice of a split's (optionally permuted) pair list, written into preallocated batch tensors.
// float32 only (the data set's type on every device); no formula here is differentiated.
#include <cstdint>

#include "kernels/common.hpp"
#include "kernels/permutation.hpp"

namespace latf::kernels {

// The frames and one split's pairs, all on one device.
struct PairSource {
  Tensor frames;               // [F, D] float32
  Indices labels;              // [F] state of each frame, in [0, states)
  Tensor weights;              // [F] data weight w
  Tensor inverse_temperature;  // [F] temperature factor b = T_ref / T_k
  Indices present;             // [P] present frame of each pair; present + lag < F
  std::int64_t lag = 0;
  int states = 0;
};

// The batch tensors (B rows): inputs [B, D], one-hot targets [B, K], weights [B], factors [B].
struct PairBatch {
  Tensor inputs, targets, weights, inverse_temperature;
};

// Row r of `batch` takes pair order[start + r] of `source` (pair start + r when `order` is
// undefined). Checks shapes, devices, dtypes and that the slice lies inside `order` (or the
// pair list); the index values themselves are trusted (they are built by Dataset), since reading
// them back from a GPU would synchronise.
void gather_pairs(const PairSource& source, const Indices& order, std::int64_t start, PairBatch& batch);

// Allocates `batch` for `rows` rows on the source's device unless it already has that shape there.
void resize_pair_batch(const PairSource& source, std::int64_t rows, PairBatch& batch);

}  // namespace latf::kernels
