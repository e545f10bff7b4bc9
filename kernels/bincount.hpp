#pragma once
// Histograms of integer states on the device that holds them, so that counting 10⁸ generated
// samples needs no label buffer and no host round trip per batch.
//
// Counts are int64 held in Indices (Tensor holds only floating point, and float32 would stop
// counting exactly at 2²⁴). Both functions ACCUMULATE (+=) into `counts`: zero it once, then
// call once per batch; read it back once at the end.
#include "kernels/common.hpp"
#include "kernels/permutation.hpp"

namespace latf::kernels {

// counts[labels[i]] += 1 for every i; labels and counts on one device. On the CPU a label
// outside [0, counts.size()) throws InvalidArgument naming "labels"; on CUDA it is skipped
// (checking there would need a host read per call), so callers pass labels they made.
void bincount(const Indices& labels, Indices& counts);

// Fused argmax + count over the rows of scores [n, K] (logits or log-probabilities; any
// device, float32 or, on the CPU, float64): counts[argmax_k scores[i, k]] += 1, ties to the
// lowest k. A row holding NaN or ±Inf is counted in non_finite[0] instead (undefined
// non_finite: such rows are dropped). counts has size K, non_finite size 1.
// CUDA: each block builds its histogram in shared memory and adds it to `counts` with one
// atomicAdd per state (global atomics directly when K is too large for shared memory).
void argmax_count(const Tensor& scores, Indices& counts, Indices& non_finite);

}  // namespace latf::kernels
