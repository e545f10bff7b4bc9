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

// Declares "<name>.weight" [out, in] and "<name>.bias" [out]; with models = M ≥ 1 the stacked
// form [M, out, in] and [M, out] (M models in one set, see autodiff/ops.hpp).
LinearIndices declare_linear(autodiff::ParameterSet& params, const std::string& name, int in, int out,
                             int models = 0);
// `shape`, or [models, shape...] when models ≥ 1.
Shape stacked_shape(const Shape& shape, int models);
// PyTorch's nn.Linear default: weight and bias ~ U(−1/√in, 1/√in), from the seeded Philox stream.
void init_linear(autodiff::ParameterSet& params, LinearIndices layer, std::uint64_t seed, std::uint64_t stream);
// Fills a parameter with values drawn uniformly from [low, high) (seeded).
void init_uniform(autodiff::ParameterSet& params, int index, double low, double high, std::uint64_t seed,
                  std::uint64_t stream);
// A parameter of `params` registered on `tape` (gradient accumulating into the flat buffer).
autodiff::Var bind(autodiff::Tape& tape, const autodiff::ParameterSet& params, int index);
autodiff::Var apply_linear(autodiff::Tape& tape, const autodiff::ParameterSet& params, LinearIndices layer,
                           autodiff::Var x, kernels::Activation act = kernels::Activation::Identity);

// Copies between one model and slot m of a stacked set declared by the same code: parameter i of
// `single` is parameter i of `stacked` without its leading model dimension, except that the
// single's first dimension may be smaller (a model over fewer states): then the slot's first
// rows are copied and the rest left as they are. Throws naming the parameter otherwise.
void copy_into_model(const autodiff::ParameterSet& single, autodiff::ParameterSet& stacked, int m);
void copy_from_model(const autodiff::ParameterSet& stacked, int m, autodiff::ParameterSet& single);

}  // namespace latf::models
