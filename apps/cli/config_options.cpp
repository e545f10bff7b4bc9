#include "apps/cli/config_options.hpp"

#include <CLI/CLI.hpp>

#include "apps/cli/common.hpp"
#include "engine/error.hpp"

namespace latf::cli {

namespace {

void add_phase_flags(CLI::App& c, models::PhaseConfig& p, const std::string& prefix, const std::string& phase) {
  c.add_option("--" + prefix + "-batch-size", p.batch_size, phase + ": minibatch size")->capture_default_str();
  c.add_option("--" + prefix + "-learning-rate", p.learning_rate, phase + ": Adam learning rate")->capture_default_str();
  c.add_option("--" + prefix + "-lr-decay", p.lr_decay, phase + ": learning-rate factor per epoch")->capture_default_str();
  c.add_option("--" + prefix + "-tolerance", p.tolerance, phase + ": converged when |Δ epoch loss| < tolerance ...")
      ->capture_default_str();
  c.add_option("--" + prefix + "-patience", p.patience, phase + ": ... for this many consecutive epochs")
      ->capture_default_str();
  c.add_option("--" + prefix + "-refinements", p.refinements, phase + ": label refinements")->capture_default_str();
  c.add_option("--" + prefix + "-max-epochs", p.max_epochs, phase + ": epoch limit per refinement round")
      ->capture_default_str();
}

nlohmann::ordered_json phase_to_json(const models::PhaseConfig& p) {
  return {{"batch_size", p.batch_size}, {"learning_rate", p.learning_rate}, {"lr_decay", p.lr_decay},
          {"tolerance", p.tolerance},   {"patience", p.patience},           {"refinements", p.refinements},
          {"max_epochs", p.max_epochs}};
}

}  // namespace

void add_config_flags(CLI::App& c, ConfigFlags& flags) {
  models::LatfConfig& m = flags.config;
  c.add_option("--lag", m.lag, "Lag time Δt in frames")->capture_default_str();
  c.add_option("--reference-temperature", m.reference_temperature, "T_ref (0 = the lowest training temperature)")
      ->capture_default_str();
  c.add_option("--validation-fraction", m.validation_fraction, "Fraction of pairs held out")->capture_default_str();
  c.add_option("--seed", m.seed, "Random seed (split, initialisation, noise)")->capture_default_str();
  c.add_option("--encoder", flags.encoder, "Encoder kind")
      ->check(CLI::IsMember({"linear", "nonlinear"}))->capture_default_str();
  c.add_option("--latent-dim", m.spib.latent_dim, "Latent dimension d")->capture_default_str();
  c.add_option("--encoder-width", m.spib.encoder_width, "Hidden width n1 of the nonlinear encoder")->capture_default_str();
  c.add_option("--decoder-width", m.spib.decoder_width, "Hidden width n2 of the decoder")->capture_default_str();
  c.add_flag("--input-dependent-variance", m.spib.input_dependent_variance,
             "Learn log σ²(x) per input instead of one scalar");
  c.add_option("--beta", m.spib.beta, "Weight β of the prior term")->capture_default_str();
  c.add_option("--initial-states", m.spib.initial_states, "K0 of the k-means initial labels")->capture_default_str();
  c.add_option("--flow-layers", m.flow.layers, "RealNVP coupling layers L")->capture_default_str();
  c.add_option("--flow-hidden", m.flow.hidden, "Hidden width h of the conditioners")->capture_default_str();
  c.add_option("--tau", m.flow.tau, "Tilt τ of the prior")->capture_default_str();
  c.add_option("--scale-clamp", m.flow.scale_clamp, "Soft clamp of the flow's log-scale (0 = none)")
      ->capture_default_str();
  add_phase_flags(c, m.spib_phase, "spib", "SPIB phase");
  add_phase_flags(c, m.joint_phase, "joint", "joint phase");
}

models::LatfConfig resolve_config(const ConfigFlags& flags) {
  models::LatfConfig config = flags.config;
  config.spib.encoder = flags.encoder == "nonlinear" ? models::EncoderKind::Nonlinear : models::EncoderKind::Linear;
  try {
    models::validate(config);
  } catch (const InvalidArgument& e) {
    throw UsageError(std::string("invalid configuration: ") + e.what());
  }
  return config;
}

nlohmann::ordered_json config_to_json(const models::LatfConfig& c) {
  return {{"lag", c.lag},
          {"reference_temperature", c.reference_temperature},
          {"validation_fraction", c.validation_fraction},
          {"seed", c.seed},
          {"spib",
           {{"encoder", c.spib.encoder == models::EncoderKind::Linear ? "linear" : "nonlinear"},
            {"latent_dim", c.spib.latent_dim},
            {"encoder_width", c.spib.encoder_width},
            {"decoder_width", c.spib.decoder_width},
            {"input_dependent_variance", c.spib.input_dependent_variance},
            {"beta", c.spib.beta},
            {"initial_states", c.spib.initial_states}}},
          {"flow", {{"layers", c.flow.layers}, {"hidden", c.flow.hidden}, {"tau", c.flow.tau}, {"scale_clamp", c.flow.scale_clamp}}},
          {"spib_phase", phase_to_json(c.spib_phase)},
          {"joint_phase", phase_to_json(c.joint_phase)}};
}

}  // namespace latf::cli
