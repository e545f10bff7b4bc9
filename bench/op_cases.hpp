#pragma once
// The benchmarked ops. Each case builds its inputs for one device and batch size and returns
// two closures over them: one forward call, and one forward + backward call (empty for ops
// without a backward: the optimizer step and the sampler). Shapes are those of LaTF training
// (METHOD.md §3–§7): d = 2, h = 16, K = 10, τ = 3.
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/tensor.hpp"

namespace latf::bench {

struct Runner {
  std::function<void()> forward;
  std::function<void()> forward_backward;  // empty: the op has no backward
};

struct OpCase {
  const char* name;
  Runner (*make)(const Device& device, std::int64_t batch);
};

// Every case, in the order they run (the kernels first, the headline coupling_stack last).
const std::vector<OpCase>& op_cases();

// The headline case, defined in coupling_stack.cpp.
Runner make_coupling_stack(const Device& device, std::int64_t batch);
// The same stack, weights and input as one fused op per direction (kernels/coupling_stack.hpp).
Runner make_coupling_stack_fused(const Device& device, std::int64_t batch);

}  // namespace latf::bench
