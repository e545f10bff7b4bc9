#pragma once
// The batch gather of LaTF training (METHOD.md §2): batch row r takes pair `pair(r)` of a split,
// whose present frame is t = present[pair(r)] and whose future frame is t + lag, and copies
// x_t, the one-hot label of frame t + lag, the data weight w_t and the temperature factor b_t.
// One call fills one batch row; the CPU loop and the CUDA kernel (a thread per row) share it. A
// row is D + K + 2 floats, and a batch a few hundred to a few thousand rows, so a GPU launch is
// latency-bound whatever the layout of the threads.
#include <cstdint>

#include "engine/hd.hpp"

namespace latf::kernels {

struct PairGatherArgs {
  // Per frame: inputs [F, D], state labels [F] (in [0, K)), data weights [F], factors b [F].
  const float* frames = nullptr;
  const std::int64_t* labels = nullptr;
  const float* weights = nullptr;
  const float* inverse_temperature = nullptr;
  // Per pair of the split: its present frame. `order` (optional) maps batch positions to pairs.
  const std::int64_t* present = nullptr;
  const std::int64_t* order = nullptr;  // null: position p is pair p
  std::int64_t start = 0;               // position of batch row 0
  std::int64_t lag = 0;
  std::int64_t descriptors = 0, states = 0;
  // Outputs: [B, D], [B, K], [B], [B].
  float* out_inputs = nullptr;
  float* out_targets = nullptr;
  float* out_weights = nullptr;
  float* out_inverse_temperature = nullptr;
};

// The pair at batch position `position` (absolute, not relative to `start`).
LATF_HD std::int64_t pair_gather_pair(const PairGatherArgs& a, std::int64_t position) {
  return a.order != nullptr ? a.order[position] : position;
}

// Batch row `row`: its present frame t (position → pair → frame), then x_t, the one-hot label of
// frame t + lag, w_t and b_t.
LATF_HD void pair_gather_row(const PairGatherArgs& a, std::int64_t row) {
  const std::int64_t t = a.present[pair_gather_pair(a, a.start + row)];
  const std::int64_t d = a.descriptors, k = a.states;
  const float* x = a.frames + t * d;
  float* in = a.out_inputs + row * d;
  for (std::int64_t j = 0; j < d; ++j) in[j] = x[j];
  const std::int64_t label = a.labels[t + a.lag];
  float* target = a.out_targets + row * k;
  for (std::int64_t s = 0; s < k; ++s) target[s] = s == label ? 1.f : 0.f;
  a.out_weights[row] = a.weights[t];
  a.out_inverse_temperature[row] = a.inverse_temperature[t];
}

// The stacked gather: M models in one pass over shared frames, weights, factors and pair list,
// each model with its own labels, its own order and its own block of the batch. Model m's view is
// the single gather's arguments offset by m strides, so every row is written by pair_gather_row.
struct StackedPairGatherArgs {
  PairGatherArgs model0;                // model 0's pointers; its `start` is not used
  const std::int64_t* start = nullptr;  // batch position of row 0: one word in the source's memory
  std::int64_t rows = 0;                // B, the rows of each model
  std::int64_t positions = 0;           // P, the pairs of the split (= length of each order)
  std::int64_t label_stride = 0;        // F: model m's labels start at m·F
  std::int64_t order_stride = 0;        // P, or 0 without orders
};

// Model m's single-gather arguments for a batch that starts at position `start`.
LATF_HD PairGatherArgs stacked_pair_gather_model(const StackedPairGatherArgs& a, std::int64_t m, std::int64_t start) {
  PairGatherArgs out = a.model0;
  out.labels += m * a.label_stride;
  if (out.order != nullptr) out.order += m * a.order_stride;
  out.start = start;
  out.out_inputs += m * a.rows * out.descriptors;
  out.out_targets += m * a.rows * out.states;
  out.out_weights += m * a.rows;
  out.out_inverse_temperature += m * a.rows;
  return out;
}

// A row the GPU cannot gather because the start read from device memory puts it outside the
// split (the host cannot check that value without synchronising): zeros, data weight 0, so the
// row adds nothing to a weighted loss and no out-of-range memory is read.
LATF_HD void pair_gather_empty_row(const PairGatherArgs& a, std::int64_t row) {
  for (std::int64_t j = 0; j < a.descriptors; ++j) a.out_inputs[row * a.descriptors + j] = 0.f;
  for (std::int64_t s = 0; s < a.states; ++s) a.out_targets[row * a.states + s] = 0.f;
  a.out_weights[row] = 0.f;
  a.out_inverse_temperature[row] = 0.f;
}

// The batch position after a step of `by` rows: back to 0 once it reaches `wrap` (the split's
// pair count), so the counter runs from epoch to epoch without a host write.
LATF_HD std::int64_t advanced_position(std::int64_t position, std::int64_t by, std::int64_t wrap) {
  const std::int64_t next = position + by;
  return next >= wrap ? 0 : next;
}

}  // namespace latf::kernels
