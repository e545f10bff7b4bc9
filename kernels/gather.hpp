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

// ---- The stacked gather: M models, one launch per step, graph-ready -------------------------
// Model m of a stack of M reads the same split (frames, weights, factors, pair list: `split`,
// whose own `labels` are not read) with its own frame labels and its own shuffle. Per-model lists
// are flat, one block per model, so that one kernel sees them all:
//   labels [M·F]: model m's label of frame t at m·F + t;
//   orders [M·P]: model m's order at m·P … m·P + P − 1 (P = split.present.size()), or undefined:
//   every model reads its pairs in order. A model that reads in order while others shuffle gets
//   the identity in its block (stack_identity).
// Build them once per refinement / epoch with stack_indices and stack_identity.
struct StackedPairSource {
  PairSource split;  // shared operands; split.states is K, the stack's width
  Indices labels;    // [M·F]
  Indices orders;    // [M·P] or undefined
};

// batch (a PairBatch with a leading model dimension): inputs [M, B, D], targets [M, B, K] (one-hot),
// weights [M, B], inverse_temperature [M, B]. Row r of model m takes position s + r of model m's
// order, s = step_start[0]: equal, bit for bit, to gather_pairs(split with labels of model m,
// order of model m, s, slice m of batch) for every m.
// step_start is one entry on the source's device. The start is read where the kernel runs (on a
// GPU from device memory, so a captured graph follows the counter; see advance_position). On the
// CPU it is checked: [s, s + B) must lie in [0, P). A GPU cannot check it without synchronising;
// there a row whose position falls outside [0, P) is written as zeros with data weight 0 (no
// out-of-range read) instead.
void gather_pairs_stacked(const StackedPairSource& source, const Indices& step_start, PairBatch& batch);

// position[0] ← position[0] + by, back to 0 once it reaches `wrap`, on the list's device (one tiny
// launch on a GPU, no host read). With by = B and wrap = P a step's graph ends with this and the
// counter walks the epoch's batches 0, B, 2B, …, returning to 0 after the last (partial) batch, so
// the next epoch starts at 0 without a host write.
void advance_position(Indices& position, std::int64_t by, std::int64_t wrap);

// Copies `part` (n entries) into entries [model·n, (model + 1)·n) of `flat`, on their device
// (ordered on the device's stream; no host synchronisation on a GPU).
void stack_indices(Indices& flat, std::int64_t model, const Indices& part);
// Writes the identity 0 … n − 1 into entries [model·n, (model + 1)·n) of `flat`.
void stack_identity(Indices& flat, std::int64_t model, std::int64_t n);

}  // namespace latf::kernels
