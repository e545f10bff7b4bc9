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
  const int m = shape.models;
  LATF_REQUIRE(m >= 0, "SPIB models: expected ≥ 0, got ", m);
  if (c.encoder == EncoderKind::Linear) {
    encoder_.push_back(declare_linear(params_, "encoder.0", shape.inputs, c.latent_dim, m));
  } else {
    encoder_.push_back(declare_linear(params_, "encoder.0", shape.inputs, c.encoder_width, m));
    encoder_.push_back(declare_linear(params_, "encoder.1", c.encoder_width, c.encoder_width, m));
    encoder_.push_back(declare_linear(params_, "encoder.2", c.encoder_width, c.latent_dim, m));
  }
  if (c.input_dependent_variance) {
    const int features = c.encoder == EncoderKind::Linear ? shape.inputs : c.encoder_width;
    variance_head_ = declare_linear(params_, "log_variance_head", features, c.latent_dim, m);
  } else {
    log_variance_ = params_.declare("log_variance", stacked_shape({1}, m));
  }
  decoder_.push_back(declare_linear(params_, "decoder.0", c.latent_dim, c.decoder_width, m));
  decoder_.push_back(declare_linear(params_, "decoder.1", c.decoder_width, c.decoder_width, m));
  decoder_.push_back(declare_linear(params_, "decoder.2", c.decoder_width, shape.states, m));
  pseudo_inputs_ = params_.declare("pseudo_inputs", stacked_shape({shape.states, shape.inputs}, m));
  mixture_logits_ = params_.declare("mixture_logits", stacked_shape({shape.states}, m));
  params_.allocate(device);  // zeros: log σ² = 0 and uniform mixture weights, as in the reference
  fused_ = device.is_cuda();
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

bool SpibModel::fusable(const std::vector<LinearIndices>& net) const {
  if (!fused_ || net.size() != 3) return false;
  if (!params_.flat_values().device().is_cuda()) return true;
  // Widths from the weights [.., out, in] of the first and last layers.
  const Shape& first = params_.shape(net.front().weight);
  const Shape& last = params_.shape(net.back().weight);
  const kernels::MlpShape s{static_cast<int>(first[first.rank() - 1]), static_cast<int>(first[first.rank() - 2]),
                            static_cast<int>(last[last.rank() - 2])};
  return kernels::mlp_fused_cuda_supported(s);
}

bool SpibModel::encoder_fused() const { return variance_head_.weight < 0 && fusable(encoder_); }

bool SpibModel::decoder_fused() const { return fusable(decoder_); }

Var SpibModel::apply_fused(Tape& tape, const std::vector<LinearIndices>& net, Var x) const {
  // ReLU is LeakyReLU with slope 0 (the same derivative 0 at 0, kernels/activation_math.hpp).
  return autodiff::mlp_layers(tape, x, bind(tape, params_, net[0].weight), bind(tape, params_, net[0].bias),
                              bind(tape, params_, net[1].weight), bind(tape, params_, net[1].bias),
                              bind(tape, params_, net[2].weight), bind(tape, params_, net[2].bias), 0.f);
}

SpibModel::Encoding SpibModel::encode(Tape& tape, Var x) const {
  if (encoder_fused()) return Encoding{apply_fused(tape, encoder_, x), bind(tape, params_, log_variance_)};
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
  if (decoder_fused()) return apply_fused(tape, decoder_, u);
  u = apply_linear(tape, params_, decoder_[0], u, Activation::ReLU);
  u = apply_linear(tape, params_, decoder_[1], u, Activation::ReLU);
  return apply_linear(tape, params_, decoder_[2], u);
}

Var SpibModel::pseudo_inputs(Tape& tape) const { return bind(tape, params_, pseudo_inputs_); }

Var SpibModel::mixture_logits(Tape& tape) const { return bind(tape, params_, mixture_logits_); }

SpibModel SpibModel::with_states(const std::vector<int>& keep) const {
  LATF_REQUIRE(models() == 0, "with_states: a stacked SPIB model refines one slot at a time (model, set_model)");
  LATF_REQUIRE(keep.size() >= 2, "label refinement left ", keep.size(),
               " state(s); at least two metastable states are needed");
  SpibShape shape = shape_;
  shape.states = static_cast<int>(keep.size());
  SpibModel next(shape, params_.flat_values().device());
  next.fused_ = fused_;
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
  LATF_REQUIRE(models() == 0, "set_pseudo_input: a stacked SPIB model sets slots with set_model");
  LATF_REQUIRE(state >= 0 && state < shape_.states, "pseudo-input index ", state, " outside [0, ", shape_.states, ")");
  std::vector<float> values(frame, frame + shape_.inputs);
  Tensor row = params_.value(pseudo_inputs_).view(static_cast<std::int64_t>(state) * shape_.inputs, {shape_.inputs});
  row.copy_from(Tensor::from_vector(values, {shape_.inputs}, row.device()));
}

SpibModel SpibModel::stack(const std::vector<const SpibModel*>& singles) {
  LATF_REQUIRE(!singles.empty(), "SPIB stack: expected at least one model");
  SpibShape shape = singles.front()->shape();
  LATF_REQUIRE(shape.models == 0, "SPIB stack: model 0 is itself stacked");
  shape.models = static_cast<int>(singles.size());
  SpibModel stacked(shape, singles.front()->parameters().flat_values().device());
  stacked.fused_ = singles.front()->fused_;
  for (int m = 0; m < shape.models; ++m) {
    const SpibShape& s = singles[m]->shape();
    LATF_REQUIRE(s.models == 0 && s.inputs == shape.inputs && s.states == shape.states &&
                     s.config.encoder == shape.config.encoder && s.config.latent_dim == shape.config.latent_dim &&
                     s.config.encoder_width == shape.config.encoder_width &&
                     s.config.decoder_width == shape.config.decoder_width &&
                     s.config.input_dependent_variance == shape.config.input_dependent_variance,
                 "SPIB stack: model ", m, " (", s.inputs, " inputs, ", s.states,
                 " states) differs in shape or architecture from model 0 (", shape.inputs, " inputs, ", shape.states,
                 " states)");
    copy_into_model(singles[m]->parameters(), stacked.params_, m);
  }
  return stacked;
}

SpibModel SpibModel::model(int m, int live_states) const {
  LATF_REQUIRE(models() > 0, "SpibModel::model: not a stacked model");
  LATF_REQUIRE(live_states >= 2 && live_states <= shape_.states, "SpibModel::model: live states ", live_states,
               " outside [2, ", shape_.states, "]");
  SpibShape shape = shape_;
  shape.models = 0;
  shape.states = live_states;
  SpibModel single(shape, params_.flat_values().device());
  single.fused_ = fused_;
  copy_from_model(params_, m, single.params_);
  return single;
}

void SpibModel::set_model(int m, const SpibModel& single) {
  LATF_REQUIRE(models() > 0, "SpibModel::set_model: not a stacked model");
  LATF_REQUIRE(m >= 0 && m < models(), "SpibModel::set_model: model ", m, " outside [0, ", models(), ")");
  // Kill every state of the slot first; the copy then revives the single's states.
  const auto fill_slot = [&](int index, double value) {
    const std::int64_t per_model = params_.shape(index).numel() / models();
    params_.value(index).reshape({params_.shape(index).numel()}).view(m * per_model, {per_model}).fill(value);
  };
  fill_slot(decoder_.back().weight, 0.0);
  fill_slot(decoder_.back().bias, kDeadStateLogit);
  fill_slot(mixture_logits_, kDeadStateLogit);
  fill_slot(pseudo_inputs_, 0.0);
  copy_into_model(single.params_, params_, m);
}

}  // namespace latf::models
