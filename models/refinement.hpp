#pragma once
// One SPIB label refinement (METHOD.md §3 steps 1–3), shared by the trainer of one model and the
// stacked trainer of many: relabel every frame by argmax_k q(k | μ(x)), drop the states left
// empty, and reset each surviving state's pseudo-input to the frame whose μ is nearest the
// state's weighted mean μ, with uniform mixture weights.
#include <cstdint>
#include <memory>
#include <vector>

#include "models/dataset.hpp"
#include "models/latf_model.hpp"

namespace latf::models {

struct Refinement {
  std::unique_ptr<SpibModel> spib;   // over the surviving states
  std::vector<std::int64_t> labels;  // per frame of the data set, in [0, states)
  int states = 0;
};

// Throws InvalidArgument if fewer than two states remain populated.
Refinement refine_states(const LatfModel& model, const Dataset& data);

}  // namespace latf::models
