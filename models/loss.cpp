#include "models/loss.hpp"

#include "autodiff/ops.hpp"

namespace latf::models {

using autodiff::Tape;
using autodiff::Var;

const char* phase_name(Phase phase) { return phase == Phase::Spib ? "spib" : "joint"; }

LossVars latf_loss(Tape& tape, const SpibModel& spib, const RealNvp& flow, Phase phase, const BatchVars& batch,
                   double beta, double tau) {
  LossVars loss;
  const SpibModel::Encoding encoding = spib.encode(tape, batch.inputs);
  Var u = autodiff::reparameterize(tape, encoding.mean, encoding.log_variance, batch.noise);
  loss.reconstruction =
      autodiff::weighted_cross_entropy(tape, spib.decode_logits(tape, u), batch.targets, batch.weights);
  if (phase == Phase::Spib) {
    // VampPrior components: the encoder's Gaussians at the pseudo-inputs.
    const SpibModel::Encoding components = spib.encode(tape, spib.pseudo_inputs(tape));
    Var log_q = autodiff::gaussian_log_density(tape, u, encoding.mean, encoding.log_variance);
    Var log_r = autodiff::vamp_log_density(tape, u, components.mean, components.log_variance, spib.mixture_logits(tape));
    loss.prior = autodiff::weighted_mean(tape, autodiff::axpby(tape, 1.0, log_q, -1.0, log_r), batch.weights);
  } else {
    const FlowOutputs f = flow.normalize(tape, u);
    Var log_r = autodiff::tilted_log_density(tape, f.out, batch.inverse_temperature, Var{}, static_cast<float>(tau));
    Var nll = f.log_det.valid() ? autodiff::axpby(tape, -1.0, log_r, -1.0, f.log_det)
                                : autodiff::axpby(tape, -1.0, log_r, 0.0, log_r);
    loss.prior = autodiff::weighted_mean(tape, nll, batch.weights);
  }
  loss.total = autodiff::axpby(tape, 1.0, loss.reconstruction, beta, loss.prior);
  return loss;
}

}  // namespace latf::models
