#include "models/loss.hpp"

#include "autodiff/ops.hpp"
#include "engine/error.hpp"

namespace latf::models {

using autodiff::Tape;
using autodiff::Var;

const char* phase_name(Phase phase) { return phase == Phase::Spib ? "spib" : "joint"; }

namespace {

// What differs between one model and a stack: where β and τ come from and how a per-sample
// term is averaged (over the batch, or over each model's slice of it).
struct Coefficients {
  double beta = 0, tau = 0;         // one model
  const Tensor* betas = nullptr;    // a stack: [M]
  const Tensor* taus = nullptr;     // a stack: [M]
  bool stacked() const { return betas != nullptr; }
};

bool fuse_prior_term(const LossOptions& options, const Tensor& inputs) {
  switch (options.prior_term) {
    case PriorTermForm::Chain:
      return false;
    case PriorTermForm::Fused:
      return true;
    case PriorTermForm::ByDevice:
      break;
  }
  return inputs.device().is_cuda();
}

LossVars build_loss(Tape& tape, const SpibModel& spib, const RealNvp& flow, Phase phase, const BatchVars& batch,
                    const Coefficients& c, const LossOptions& options) {
  const bool fused = fuse_prior_term(options, tape.value(batch.inputs));
  const auto batch_mean = [&](Var per_sample) {
    return c.stacked() ? autodiff::model_weighted_mean(tape, per_sample, batch.weights)
                       : autodiff::weighted_mean(tape, per_sample, batch.weights);
  };
  LossVars loss;
  const SpibModel::Encoding encoding = spib.encode(tape, batch.inputs);
  Var u = autodiff::reparameterize(tape, encoding.mean, encoding.log_variance, batch.noise);
  loss.reconstruction =
      autodiff::weighted_cross_entropy(tape, spib.decode_logits(tape, u), batch.targets, batch.weights);
  if (phase == Phase::Spib) {
    // VampPrior components: the encoder's Gaussians at the pseudo-inputs.
    const SpibModel::Encoding components = spib.encode(tape, spib.pseudo_inputs(tape));
    if (fused) {
      loss.prior = autodiff::vamp_kl_term(tape, u, encoding.mean, encoding.log_variance, components.mean,
                                          components.log_variance, spib.mixture_logits(tape), batch.weights);
    } else {
      Var log_q = autodiff::gaussian_log_density(tape, u, encoding.mean, encoding.log_variance);
      Var log_r =
          autodiff::vamp_log_density(tape, u, components.mean, components.log_variance, spib.mixture_logits(tape));
      loss.prior = batch_mean(autodiff::axpby(tape, 1.0, log_q, -1.0, log_r));
    }
  } else if (fused) {
    const FlowOutputs f = flow.normalize(tape, u);
    loss.prior = c.stacked() ? autodiff::tilted_nll_term(tape, f.out, f.log_det, batch.inverse_temperature, *c.taus,
                                                         batch.weights)
                             : autodiff::tilted_nll_term(tape, f.out, f.log_det, batch.inverse_temperature,
                                                         static_cast<float>(c.tau), batch.weights);
  } else {
    const FlowOutputs f = flow.normalize(tape, u);
    Var log_r = c.stacked()
                    ? autodiff::tilted_log_density(tape, f.out, batch.inverse_temperature, Var{}, *c.taus)
                    : autodiff::tilted_log_density(tape, f.out, batch.inverse_temperature, Var{}, static_cast<float>(c.tau));
    Var nll = f.log_det.valid() ? autodiff::axpby(tape, -1.0, log_r, -1.0, f.log_det)
                                : autodiff::axpby(tape, -1.0, log_r, 0.0, log_r);
    loss.prior = batch_mean(nll);
  }
  loss.total = c.stacked() ? autodiff::axpby(tape, 1.0, autodiff::weighted_sum(tape, loss.reconstruction, Var{}), 1.0,
                                             autodiff::weighted_sum(tape, loss.prior, tape.constant(*c.betas)))
                           : autodiff::axpby(tape, 1.0, loss.reconstruction, c.beta, loss.prior);
  return loss;
}

}  // namespace

LossVars latf_loss(Tape& tape, const SpibModel& spib, const RealNvp& flow, Phase phase, const BatchVars& batch,
                   double beta, double tau, const LossOptions& options) {
  Coefficients c;
  c.beta = beta;
  c.tau = tau;
  return build_loss(tape, spib, flow, phase, batch, c, options);
}

LossVars stacked_latf_loss(Tape& tape, const SpibModel& spib, const RealNvp& flow, Phase phase, const BatchVars& batch,
                           const Tensor& betas, const Tensor& taus, const LossOptions& options) {
  const int models = spib.models();
  LATF_REQUIRE(models >= 1 && flow.models() == models, "stacked loss: SPIB has ", models, " models, the flow ",
               flow.models(), "; expected the same M ≥ 1");
  require_shape(betas, {models}, "stacked loss betas");
  require_shape(taus, {models}, "stacked loss taus");
  Coefficients c;
  c.betas = &betas;
  c.taus = &taus;
  return build_loss(tape, spib, flow, phase, batch, c, options);
}

}  // namespace latf::models
