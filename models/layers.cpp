#include "models/layers.hpp"

#include <cmath>

#include "engine/error.hpp"
#include "engine/random_fill.hpp"

namespace latf::models {

Shape stacked_shape(const Shape& shape, int models) {
  if (models <= 0) return shape;
  LATF_REQUIRE(shape.rank() < Shape::kMaxRank, "stacked parameter: shape ", shape.str(), " has no room for a model dimension");
  std::int64_t dims[Shape::kMaxRank] = {models, 0, 0, 0};
  for (int i = 0; i < shape.rank(); ++i) dims[i + 1] = shape[i];
  switch (shape.rank()) {
    case 0: return Shape{dims[0]};
    case 1: return Shape{dims[0], dims[1]};
    case 2: return Shape{dims[0], dims[1], dims[2]};
    default: return Shape{dims[0], dims[1], dims[2], dims[3]};
  }
}

LinearIndices declare_linear(autodiff::ParameterSet& params, const std::string& name, int in, int out, int models) {
  LinearIndices layer;
  layer.weight = params.declare(name + ".weight", stacked_shape({out, in}, models));
  layer.bias = params.declare(name + ".bias", stacked_shape({out}, models));
  return layer;
}

namespace {
// The elements of parameter i that slot m and the single model share: the single's whole
// tensor and the first numel of the slot (a row-major prefix when the single has fewer rows).
struct SlotRange {
  std::int64_t slot_offset = 0, count = 0;
};
SlotRange slot_range(const autodiff::ParameterSet& single, const autodiff::ParameterSet& stacked, int m, int i) {
  const std::string& name = single.names()[i];
  LATF_REQUIRE(i < stacked.count() && stacked.names()[i] == name, "stacked parameters: parameter ", i, " is '", name,
               "' in the single model but '", i < stacked.count() ? stacked.names()[i] : std::string("(none)"),
               "' in the stack");
  const Shape& s = single.shape(i);
  const Shape& t = stacked.shape(i);
  bool fits = t.rank() == s.rank() + 1 && s.rank() >= 1 && s[0] <= t[1];
  for (int a = 1; fits && a < s.rank(); ++a) fits = s[a] == t[a + 1];
  LATF_REQUIRE(fits, "stacked parameter '", name, "': single shape ", s.str(), " does not fit stacked shape ", t.str());
  LATF_REQUIRE(m >= 0 && m < t[0], "stacked parameter '", name, "': model ", m, " outside [0, ", t[0], ")");
  return SlotRange{m * (t.numel() / t[0]), s.numel()};
}
}  // namespace

void copy_into_model(const autodiff::ParameterSet& single, autodiff::ParameterSet& stacked, int m) {
  LATF_REQUIRE(single.count() == stacked.count(), "stacked parameters: ", single.count(), " in the single model, ",
               stacked.count(), " in the stack");
  for (int i = 0; i < single.count(); ++i) {
    const SlotRange r = slot_range(single, stacked, m, i);
    stacked.value(i).reshape({stacked.shape(i).numel()}).view(r.slot_offset, {r.count}).copy_from(
        single.value(i).reshape({r.count}));
  }
}

void copy_from_model(const autodiff::ParameterSet& stacked, int m, autodiff::ParameterSet& single) {
  LATF_REQUIRE(single.count() == stacked.count(), "stacked parameters: ", single.count(), " in the single model, ",
               stacked.count(), " in the stack");
  for (int i = 0; i < single.count(); ++i) {
    const SlotRange r = slot_range(single, stacked, m, i);
    single.value(i).reshape({r.count}).copy_from(
        stacked.value(i).reshape({stacked.shape(i).numel()}).view(r.slot_offset, {r.count}));
  }
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
