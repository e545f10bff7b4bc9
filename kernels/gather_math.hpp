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

}  // namespace latf::kernels
