#pragma once
// Small helpers shared by the models: declaring and initialising linear layers in a
// ParameterSet, and applying them on a tape.
#include <string>

#include "autodiff/ops.hpp"
#include "autodiff/optimizer.hpp"

namespace latf::models {

// Indices of a linear layer's parameters, resolved once (no string lookups in a training step).
struct LinearIndices {
  int weight = -1, bias = -1;
};

// Declares "<name>.weight" [out, in] and "<name>.bias" [out].
LinearIndices declare_linear(autodiff::ParameterSet& params, const std::string& name, int in, int out);
// PyTorch's nn.Linear default: weight and bias ~ U(−1/√in, 1/√in), from the seeded Philox stream.
void init_linear(autodiff::ParameterSet& params, LinearIndices layer, std::uint64_t seed, std::uint64_t stream);
// Fills a parameter with values drawn uniformly from [low, high) (seeded).
void init_uniform(autodiff::ParameterSet& params, int index, double low, double high, std::uint64_t seed,
                  std::uint64_t stream);
// A parameter of `params` registered on `tape` (gradient accumulating into the flat buffer).
autodiff::Var bind(autodiff::Tape& tape, const autodiff::ParameterSet& params, int index);
autodiff::Var apply_linear(autodiff::Tape& tape, const autodiff::ParameterSet& params, LinearIndices layer,
                           autodiff::Var x, kernels::Activation act = kernels::Activation::Identity);

}  // namespace latf::models
