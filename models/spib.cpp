#include "models/spib.hpp"

#include "engine/error.hpp"

namespace latf::models {

using autodiff::Tape;
using autodiff::Var;
using kernels::Activation;

SpibModel::SpibModel(const SpibShape& shape, const Device& device) : shape_(shape) {
  const SpibConfig& c = shape.config;
  LATF_REQUIRE(shape.inputs >= 1, "SPIB inputs: expected ≥ 1 descriptor, got ", shape.inputs);
  LATF_REQUIRE(shape.states >= 2, "SPIB states: expected ≥ 2, got ", shape.states);
  if (c.encoder == EncoderKind::Linear) {
    encoder_.push_back(declare_linear(params_, "encoder.0", shape.inputs, c.latent_dim));
  } else {
    encoder_.push_back(declare_linear(params_, "encoder.0", shape.inputs, c.encoder_width));
    encoder_.push_back(declare_linear(params_, "encoder.1", c.encoder_width, c.encoder_width));
    encoder_.push_back(declare_linear(params_, "encoder.2", c.encoder_width, c.latent_dim));
  }
  if (c.input_dependent_variance) {
    const int features = c.encoder == EncoderKind::Linear ? shape.inputs : c.encoder_width;
    variance_head_ = declare_linear(params_, "log_variance_head", features, c.latent_dim);
  } else {
    log_variance_ = params_.declare("log_variance", {1});
  }
  decoder_.push_back(declare_linear(params_, "decoder.0", c.latent_dim, c.decoder_width));
  decoder_.push_back(declare_linear(params_, "decoder.1", c.decoder_width, c.decoder_width));
  decoder_.push_back(declare_linear(params_, "decoder.2", c.decoder_width, shape.states));
  pseudo_inputs_ = params_.declare("pseudo_inputs", {shape.states, shape.inputs});
  mixture_logits_ = params_.declare("mixture_logits", {shape.states});
  params_.allocate(device);  // zeros: log σ² = 0 and uniform mixture weights, as in the reference
}

SpibModel::SpibModel(const SpibShape& shape, const Device& device, std::uint64_t seed) : SpibModel(shape, device) {
  std::uint64_t stream = 100;
  for (const LinearIndices& layer : encoder_) init_linear(params_, layer, seed, stream++);
  for (const LinearIndices& layer : decoder_) init_linear(params_, layer, seed, stream++);
  if (variance_head_.weight >= 0) init_linear(params_, variance_head_, seed, stream++);
  // Pseudo-inputs start as standard normal-ish points in the normalised descriptor space; the
  // first refinement resets them to representative frames.
  init_uniform(params_, pseudo_inputs_, -1.0, 1.0, seed, stream++);
}

SpibModel::Encoding SpibModel::encode(Tape& tape, Var x) const {
  Var features = x;  // the last hidden layer (the input itself for a linear encoder)
  for (std::size_t i = 0; i + 1 < encoder_.size(); ++i)
    features = apply_linear(tape, params_, encoder_[i], features, Activation::ReLU);
  Encoding e;
  e.mean = apply_linear(tape, params_, encoder_.back(), features);
  e.log_variance = variance_head_.weight >= 0
                       ? autodiff::scaled_sigmoid(tape, apply_linear(tape, params_, variance_head_, features), -10.0)
                       : bind(tape, params_, log_variance_);
  return e;
}

Var SpibModel::decode_logits(Tape& tape, Var u) const {
  u = apply_linear(tape, params_, decoder_[0], u, Activation::ReLU);
  u = apply_linear(tape, params_, decoder_[1], u, Activation::ReLU);
  return apply_linear(tape, params_, decoder_[2], u);
}

Var SpibModel::pseudo_inputs(Tape& tape) const { return bind(tape, params_, pseudo_inputs_); }

Var SpibModel::mixture_logits(Tape& tape) const { return bind(tape, params_, mixture_logits_); }

SpibModel SpibModel::with_states(const std::vector<int>& keep) const {
  LATF_REQUIRE(keep.size() >= 2, "label refinement left ", keep.size(),
               " state(s); at least two metastable states are needed");
  SpibShape shape = shape_;
  shape.states = static_cast<int>(keep.size());
  SpibModel next(shape, params_.flat_values().device());
  const Device cpu = Device::cpu();
  for (int i = 0; i < params_.count(); ++i) {
    const std::string& name = params_.names()[i];
    const int j = next.params_.index(name);
    if (i == mixture_logits_) continue;  // uniform again (zeros)
    Tensor source = params_.value(i).to(cpu);
    if (i == decoder_.back().weight || i == decoder_.back().bias || i == pseudo_inputs_) {
      // Row-wise copy of the surviving states.
      const std::int64_t row = source.numel() / shape_.states;
      Tensor target = Tensor::empty(next.params_.shape(j));
      for (std::size_t k = 0; k < keep.size(); ++k)
        target.view(static_cast<std::int64_t>(k) * row, {row}).copy_from(source.view(keep[k] * row, {row}));
      next.params_.value(j).copy_from(target.to(next.params_.value(j).device()));
    } else {
      next.params_.value(j).copy_from(source.to(next.params_.value(j).device()));
    }
  }
  return next;
}

void SpibModel::set_pseudo_input(int state, const float* frame) {
  LATF_REQUIRE(state >= 0 && state < shape_.states, "pseudo-input index ", state, " outside [0, ", shape_.states, ")");
  std::vector<float> values(frame, frame + shape_.inputs);
  Tensor row = params_.value(pseudo_inputs_).view(static_cast<std::int64_t>(state) * shape_.inputs, {shape_.inputs});
  row.copy_from(Tensor::from_vector(values, {shape_.inputs}, row.device()));
}

}  // namespace latf::models
