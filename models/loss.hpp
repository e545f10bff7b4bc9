#pragma once
// The two training objectives of LaTF on one batch, recorded on a tape:
//   SPIB phase:  reconstruction + β · mean_i w_i [log q(u_i|x_i) − log r_vamp(u_i)]        (§3)
//   joint phase: reconstruction + β · mean_i w_i [−log r(F(u_i)) − log|det ∂F/∂u|_i]     (§6)
// with reconstruction = mean_i w_i Σ_k −y_ik log q(k | u_i) and u = μ(x) + σ ε. Per-frame
// weights multiply both terms (not the reference's mean(w) on the log-det).
#include "autodiff/tape.hpp"
#include "models/realnvp.hpp"
#include "models/spib.hpp"

namespace latf::models {

enum class Phase { Spib, Joint };
const char* phase_name(Phase phase);

struct BatchVars {
  autodiff::Var inputs;               // [B, D] normalised x_t
  autodiff::Var targets;              // [B, K] one-hot future labels
  autodiff::Var weights;              // [B] data weights w
  autodiff::Var inverse_temperature;  // [B] b = T_ref / T (joint phase)
  autodiff::Var noise;                // [B, d] standard normal ε
};

struct LossVars {
  autodiff::Var total, reconstruction, prior;  // prior: the term multiplied by β
};

// How the prior term is recorded: as the chain density op(s) → axpby → weighted mean, or as one
// fused op (autodiff vamp_kl_term / tilted_nll_term: per-row densities fused with the reduction,
// one backward kernel on CUDA). ByDevice fuses when the batch lives on a CUDA device and keeps the
// chain on the CPU, where it is the vectorised path (and CPU training stays bit-identical).
enum class PriorTermForm { ByDevice, Chain, Fused };

struct LossOptions {
  PriorTermForm prior_term = PriorTermForm::ByDevice;
};

LossVars latf_loss(autodiff::Tape& tape, const SpibModel& spib, const RealNvp& flow, Phase phase,
                   const BatchVars& batch, double beta, double tau, const LossOptions& options = {});

// The stacked form: M models (spib.models() = flow.models() = M) on a stacked batch (every
// BatchVars field with a leading M), one β and one τ per model in betas, taus [M] (float32 on the
// models' device). reconstruction and prior are [M], model m's terms; total [1] is
// Σ_m (reconstruction_m + β_m·prior_m): the models share no parameter, so the gradient of the sum
// is, for each model, the gradient of its own loss.
LossVars stacked_latf_loss(autodiff::Tape& tape, const SpibModel& spib, const RealNvp& flow, Phase phase,
                           const BatchVars& batch, const Tensor& betas, const Tensor& taus,
                           const LossOptions& options = {});

}  // namespace latf::models
