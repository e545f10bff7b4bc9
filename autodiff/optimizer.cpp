#include "autodiff/optimizer.hpp"

#include <cmath>

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

ModelAdam::ModelAdam(ParameterSet& stacked, int models, const kernels::AdamConfig& config)
    : parameters_(stacked), models_(models), config_(config) {
  kernels::validate(config);
  LATF_REQUIRE(models >= 1, "ModelAdam: models: expected ≥ 1, got ", models);
  const Tensor values = stacked.flat_values();
  for (int i = 0; i < stacked.count(); ++i) {
    const Shape& shape = stacked.shape(i);
    LATF_REQUIRE(models == 1 || (shape.rank() >= 1 && shape[0] == models), "ModelAdam: parameter '", stacked.names()[i],
                 "': expected a stacked shape [", models, ", ...], got ", shape.str());
    const std::int64_t per_model = shape.numel() / models;
    if (per_model == 0) continue;  // owns no element: no element may look it up
    host_segments_.push_back(stacked.offset(i));
    host_segments_.push_back(per_model);
  }
  const Device& device = values.device();
  first_moment_ = Tensor::zeros(values.shape(), device, values.dtype());
  second_moment_ = Tensor::zeros(values.shape(), device, values.dtype());
  learning_rates_ = Tensor::full({models}, double(config.learning_rate), device);
  coefficients_ = Tensor::zeros({models, kernels::kAdamCoefficientFields}, device, values.dtype());
  steps_ = kernels::Indices::from_vector(std::vector<std::int64_t>(static_cast<std::size_t>(models), 0), device);
  segments_ = kernels::Indices::from_vector(host_segments_, device);
}

void ModelAdam::set_learning_rates(const std::vector<float>& rates) {
  LATF_REQUIRE(rates.size() == static_cast<std::size_t>(models_), "ModelAdam learning rates: expected ", models_,
               " (one per model), got ", rates.size());
  for (std::size_t m = 0; m < rates.size(); ++m)
    LATF_REQUIRE(std::isfinite(rates[m]) && rates[m] >= 0.f, "ModelAdam learning rate of model ", m,
                 ": expected a finite value ≥ 0, got ", rates[m]);
  // In place: a captured step keeps reading this buffer.
  learning_rates_.copy_from(Tensor::from_vector(rates, {models_}));
}

void ModelAdam::step() {
  Tensor values = parameters_.flat_values();
  kernels::adam_step_models(values, parameters_.flat_grads(), first_moment_, second_moment_, config_,
                            learning_rates_, steps_, segments_, coefficients_);
}

void ModelAdam::reset_model(int m) {
  LATF_REQUIRE(m >= 0 && m < models_, "ModelAdam::reset_model: model ", m, " out of range [0, ", models_, ")");
  for (std::size_t k = 0; k < host_segments_.size(); k += 2) {
    const std::int64_t size = host_segments_[k + 1], start = host_segments_[k] + m * size;
    first_moment_.view(start, {size}).zero();
    second_moment_.view(start, {size}).zero();
  }
  kernels::zero_steps(steps_, m, 1);
}

void ModelAdam::reset() {
  first_moment_.zero();
  second_moment_.zero();
  kernels::zero_steps(steps_, 0, models_);
}

std::vector<std::int64_t> ModelAdam::steps() const { return steps_.to_vector(); }

}  // namespace latf::autodiff
