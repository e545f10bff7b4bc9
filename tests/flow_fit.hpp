#pragma once
// A small flow training step assembled from the engine, used by the training-step tests on the
// CPU and on CUDA.
#include <memory>
#include <string>

#include "autodiff/ops.hpp"
#include "autodiff/optimizer.hpp"
#include "engine/random_fill.hpp"

namespace latf::testing {

// A RealNVP flow of `layers` coupling layers (d = 2, h = 16) trained by maximum likelihood under
// the tilted prior: loss = mean_i w_i (−log r(F(u_i)) − log|det ∂F/∂u|_i).
class FlowFit {
 public:
  explicit FlowFit(int layers, const Device& device = Device::cpu()) : layers_(layers), device_(device) {
    spec_.dim = 2;
    spec_.hidden = 16;
    spec_.direction = kernels::CouplingDirection::Normalizing;
    for (int l = 0; l < layers; ++l) {
      params_.declare("scale" + std::to_string(l), {spec_.net().size()});
      params_.declare("shift" + std::to_string(l), {spec_.net().size()});
      params_.declare("a" + std::to_string(l), {2});
    }
    params_.allocate(device);
    Tensor init = Tensor::empty({params_.size()});
    fill_normal(init, 5, 0, 0.0, 0.1);
    params_.flat_values().copy_from(init.to(device));
    adam_ = std::make_unique<autodiff::Adam>(params_);
    masks_[0] = Tensor::from_vector(std::vector<float>{1, 0}, {2}, device);
    masks_[1] = Tensor::from_vector(std::vector<float>{0, 1}, {2}, device);
    // Data: a Gaussian blob away from the prior's ring, weights 1, temperature weight b = 1.
    data_ = Tensor::empty({512, 2});
    fill_normal(data_, 6, 0, 1.5, 0.3);
    data_ = data_.to(device);
    weights_ = Tensor::full({512}, 1.0, device);
    inverse_temperature_ = Tensor::full({512}, 1.0, device);
  }

  float step() {
    tape_.clear();
    params_.zero_grad();
    autodiff::Var x = tape_.constant(data_);
    autodiff::Var log_det;
    for (int l = 0; l < layers_; ++l) {
      const auto out = autodiff::coupling(tape_, x, tape_.constant(masks_[l % 2]),
                                          tape_.parameter(params_.value(3 * l), params_.grad(3 * l)),
                                          tape_.parameter(params_.value(3 * l + 1), params_.grad(3 * l + 1)),
                                          tape_.parameter(params_.value(3 * l + 2), params_.grad(3 * l + 2)), spec_);
      x = out.y;
      log_det = l == 0 ? out.log_det : autodiff::axpby(tape_, 1.0, log_det, 1.0, out.log_det);
    }
    autodiff::Var log_prior = autodiff::tilted_log_density(tape_, x, tape_.constant(inverse_temperature_), autodiff::Var{}, 3.0f);
    autodiff::Var nll = autodiff::axpby(tape_, -1.0, log_prior, -1.0, log_det);
    autodiff::Var loss = autodiff::weighted_mean(tape_, nll, tape_.constant(weights_));
    tape_.backward(loss);
    adam_->step(1e-2f);
    return tape_.value(loss).item();
  }

 private:
  int layers_;
  Device device_;
  kernels::CouplingSpec spec_;
  autodiff::ParameterSet params_;
  std::unique_ptr<autodiff::Adam> adam_;
  Tensor masks_[2], data_, weights_, inverse_temperature_;
  autodiff::Tape tape_;
};

}  // namespace latf::testing
