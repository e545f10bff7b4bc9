#include "autodiff/optimizer.hpp"

#include "engine/error.hpp"

namespace latf::autodiff {

int ParameterSet::declare(const std::string& name, const Shape& shape) {
  LATF_REQUIRE(!allocated(), "ParameterSet: parameter '", name, "' declared after allocate()");
  LATF_REQUIRE(!name.empty(), "ParameterSet: expected a non-empty parameter name");
  for (const std::string& existing : names_)
    LATF_REQUIRE(existing != name, "ParameterSet: parameter '", name, "' is declared twice");
  entries_.push_back(Entry{shape, size_});
  names_.push_back(name);
  size_ += shape.numel();
  return count() - 1;
}

void ParameterSet::allocate(const Device& device, DType dtype) {
  LATF_REQUIRE(!allocated(), "ParameterSet: allocate() called twice");
  values_ = Tensor::zeros({size_}, device, dtype);
  grads_ = Tensor::zeros({size_}, device, dtype);
}

const ParameterSet::Entry& ParameterSet::entry(int index) const {
  LATF_REQUIRE(index >= 0 && index < count(), "ParameterSet: parameter index ", index, " out of range (",
               count(), " parameters)");
  return entries_[index];
}

void ParameterSet::require_allocated(const char* what) const {
  LATF_REQUIRE(allocated(), "ParameterSet: ", what, " before allocate()");
}

const Shape& ParameterSet::shape(int index) const { return entry(index).shape; }

int ParameterSet::index(const std::string& name) const {
  for (int i = 0; i < count(); ++i)
    if (names_[i] == name) return i;
  fail("ParameterSet: unknown parameter '", name, "' (", count(), " declared)");
}

Tensor ParameterSet::value(int index) const {
  const Entry& e = entry(index);
  require_allocated("value()");
  return values_.view(e.offset, e.shape);
}

Tensor ParameterSet::grad(int index) const {
  const Entry& e = entry(index);
  require_allocated("grad()");
  return grads_.view(e.offset, e.shape);
}

Tensor ParameterSet::flat_values() const {
  require_allocated("flat_values()");
  return values_;
}

Tensor ParameterSet::flat_grads() const {
  require_allocated("flat_grads()");
  return grads_;
}

void ParameterSet::zero_grad() {
  require_allocated("zero_grad()");
  grads_.zero();
}

Adam::Adam(ParameterSet& parameters, const kernels::AdamConfig& config) : parameters_(parameters), config_(config) {
  kernels::validate(config);
  const Tensor values = parameters.flat_values();
  first_moment_ = Tensor::zeros(values.shape(), values.device(), values.dtype());
  second_moment_ = Tensor::zeros(values.shape(), values.device(), values.dtype());
}

void Adam::step(float learning_rate) {
  kernels::AdamConfig config = config_;
  config.learning_rate = learning_rate;
  Tensor values = parameters_.flat_values();
  kernels::adam_step(values, parameters_.flat_grads(), first_moment_, second_moment_, config, steps_ + 1);
  ++steps_;
}

void Adam::reset() {
  first_moment_.zero();
  second_moment_.zero();
  steps_ = 0;
}

void Adam::restore(std::int64_t steps, const Tensor& first_moment, const Tensor& second_moment) {
  LATF_REQUIRE(steps >= 0, "Adam::restore: steps: expected ≥ 0, got ", steps);
  require_shape(first_moment, first_moment_.shape(), "first_moment");
  require_shape(second_moment, second_moment_.shape(), "second_moment");
  LATF_REQUIRE(first_moment.dtype() == first_moment_.dtype() && second_moment.dtype() == second_moment_.dtype(),
               "Adam::restore: moments: expected dtype ", dtype_name(first_moment_.dtype()), ", got ",
               dtype_name(first_moment.dtype()), " and ", dtype_name(second_moment.dtype()));
  first_moment_.copy_from(first_moment);
  second_moment_.copy_from(second_moment);
  steps_ = steps;
}

}  // namespace latf::autodiff
