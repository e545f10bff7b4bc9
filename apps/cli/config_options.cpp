#include "apps/cli/config_options.hpp"

#include <CLI/CLI.hpp>

#include "apps/cli/common.hpp"
#include "engine/error.hpp"

namespace latf::cli {

namespace {

using models::LatfConfig;

// An accessor `[](LatfConfig& c) -> T& { return c.field; }` for one field.
#define LATF_FIELD(expr) [](LatfConfig & c) -> auto& { return c.expr; }

template <class Get>
void bind_field(CLI::App& c, ConfigFlags& f, const std::string& name, Get get, const std::string& help) {
  CLI::Option* option = c.add_option(name, get(f.config), help)->capture_default_str();
  f.bindings.emplace_back(option, [get](LatfConfig& to, const LatfConfig& from) { get(to) = get(const_cast<LatfConfig&>(from)); });
}

template <class Get>
void add_phase_flags(CLI::App& c, ConfigFlags& f, const std::string& prefix, const std::string& phase, Get phase_of) {
  const std::string p = "--" + prefix + "-";
  bind_field(c, f, p + "batch-size", [=](LatfConfig& x) -> auto& { return phase_of(x).batch_size; }, phase + ": minibatch size");
  bind_field(c, f, p + "learning-rate", [=](LatfConfig& x) -> auto& { return phase_of(x).learning_rate; },
       phase + ": Adam learning rate");
  bind_field(c, f, p + "lr-decay", [=](LatfConfig& x) -> auto& { return phase_of(x).lr_decay; },
       phase + ": learning-rate factor per epoch");
  bind_field(c, f, p + "tolerance", [=](LatfConfig& x) -> auto& { return phase_of(x).tolerance; },
       phase + ": converged when |Δ epoch loss| < tolerance ...");
  bind_field(c, f, p + "patience", [=](LatfConfig& x) -> auto& { return phase_of(x).patience; },
       phase + ": ... for this many consecutive epochs");
  bind_field(c, f, p + "refinements", [=](LatfConfig& x) -> auto& { return phase_of(x).refinements; },
       phase + ": label refinements");
  bind_field(c, f, p + "max-epochs", [=](LatfConfig& x) -> auto& { return phase_of(x).max_epochs; },
       phase + ": epoch limit per refinement round");
}

nlohmann::ordered_json phase_to_json(const models::PhaseConfig& p) {
  return {{"batch_size", p.batch_size}, {"learning_rate", p.learning_rate}, {"lr_decay", p.lr_decay},
          {"tolerance", p.tolerance},   {"patience", p.patience},           {"refinements", p.refinements},
          {"max_epochs", p.max_epochs}};
}

}  // namespace

void add_config_flags(CLI::App& c, ConfigFlags& f) {
  c.add_option("--config", f.config_file, "TOML file of hyperparameters (keys as in config.json); flags override it")
      ->check(CLI::ExistingFile);
  bind_field(c, f, "--lag", LATF_FIELD(lag), "Lag time Δt in frames");
  bind_field(c, f, "--reference-temperature", LATF_FIELD(reference_temperature), "T_ref (0 = the lowest training temperature)");
  bind_field(c, f, "--validation-fraction", LATF_FIELD(validation_fraction), "Fraction of pairs held out");
  bind_field(c, f, "--seed", LATF_FIELD(seed), "Random seed (split, initialisation, noise)");
  f.encoder_option =
      c.add_option("--encoder", f.encoder, "Encoder kind")->check(CLI::IsMember({"linear", "nonlinear"}))->capture_default_str();
  bind_field(c, f, "--latent-dim", LATF_FIELD(spib.latent_dim), "Latent dimension d");
  bind_field(c, f, "--encoder-width", LATF_FIELD(spib.encoder_width), "Hidden width n1 of the nonlinear encoder");
  bind_field(c, f, "--decoder-width", LATF_FIELD(spib.decoder_width), "Hidden width n2 of the decoder");
  CLI::Option* variance = c.add_flag("--input-dependent-variance", f.config.spib.input_dependent_variance,
                                     "Learn log σ²(x) per input instead of one scalar");
  f.bindings.emplace_back(variance, [](LatfConfig& to, const LatfConfig& from) {
    to.spib.input_dependent_variance = from.spib.input_dependent_variance;
  });
  bind_field(c, f, "--beta", LATF_FIELD(spib.beta), "Weight β of the prior term");
  bind_field(c, f, "--initial-states", LATF_FIELD(spib.initial_states), "K0 of the k-means initial labels");
  bind_field(c, f, "--flow-layers", LATF_FIELD(flow.layers), "RealNVP coupling layers L");
  bind_field(c, f, "--flow-hidden", LATF_FIELD(flow.hidden), "Hidden width h of the conditioners");
  bind_field(c, f, "--tau", LATF_FIELD(flow.tau), "Tilt τ of the prior");
  bind_field(c, f, "--scale-clamp", LATF_FIELD(flow.scale_clamp), "Soft clamp of the flow's log-scale (0 = none)");
  add_phase_flags(c, f, "spib", "SPIB phase", LATF_FIELD(spib_phase));
  add_phase_flags(c, f, "joint", "joint phase", LATF_FIELD(joint_phase));
}

models::LatfConfig resolve_config(const ConfigFlags& flags) {
  models::LatfConfig config;
  if (!flags.config_file.empty()) apply_toml_config(flags.config_file, config);
  for (const auto& [option, copy] : flags.bindings)
    if (option->count() > 0) copy(config, flags.config);
  if (flags.encoder_option->count() > 0)
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
