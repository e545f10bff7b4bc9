#include "models/layers.hpp"

#include <cmath>

#include "engine/random_fill.hpp"

namespace latf::models {

LinearIndices declare_linear(autodiff::ParameterSet& params, const std::string& name, int in, int out) {
  LinearIndices layer;
  layer.weight = params.declare(name + ".weight", {out, in});
  layer.bias = params.declare(name + ".bias", {out});
  return layer;
}

void init_uniform(autodiff::ParameterSet& params, int index, double low, double high, std::uint64_t seed,
                  std::uint64_t stream) {
  Tensor target = params.value(index);
  Tensor values = Tensor::empty(target.shape());
  fill_uniform(values, seed, stream, low, high);
  target.copy_from(values.to(target.device()));
}

void init_linear(autodiff::ParameterSet& params, LinearIndices layer, std::uint64_t seed, std::uint64_t stream) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(params.shape(layer.weight)[1]));
  init_uniform(params, layer.weight, -bound, bound, seed, 2 * stream);
  init_uniform(params, layer.bias, -bound, bound, seed, 2 * stream + 1);
}

autodiff::Var bind(autodiff::Tape& tape, const autodiff::ParameterSet& params, int index) {
  return tape.parameter(params.value(index), params.grad(index));
}

autodiff::Var apply_linear(autodiff::Tape& tape, const autodiff::ParameterSet& params, LinearIndices layer,
                           autodiff::Var x, kernels::Activation act) {
  return autodiff::linear(tape, x, bind(tape, params, layer.weight), bind(tape, params, layer.bias), act);
}

}  // namespace latf::models
