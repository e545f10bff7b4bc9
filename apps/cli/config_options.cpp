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
void bind_field(CLI::App& c, ConfigFlags& f, const std::string& name, const std::string& key, Get get,
                const std::string& help) {
  CLI::Option* option = c.add_option(name, get(f.config), help)->capture_default_str();
  f.bindings.push_back(
      {option, key, [get](LatfConfig& to, const LatfConfig& from) { get(to) = get(const_cast<LatfConfig&>(from)); }});
}

template <class Get>
void add_phase_flags(CLI::App& c, ConfigFlags& f, const std::string& prefix, const std::string& phase, Get phase_of) {
  const std::string p = "--" + prefix + "-", k = prefix + "_phase.";
  bind_field(c, f, p + "batch-size", k + "batch_size",
             [=](LatfConfig& x) -> auto& { return phase_of(x).batch_size; }, phase + ": minibatch size");
  bind_field(c, f, p + "learning-rate", k + "learning_rate",
             [=](LatfConfig& x) -> auto& { return phase_of(x).learning_rate; }, phase + ": Adam learning rate");
  bind_field(c, f, p + "lr-decay", k + "lr_decay", [=](LatfConfig& x) -> auto& { return phase_of(x).lr_decay; },
             phase + ": learning-rate factor per epoch");
  bind_field(c, f, p + "tolerance", k + "tolerance", [=](LatfConfig& x) -> auto& { return phase_of(x).tolerance; },
             phase + ": converged when |Δ epoch loss| < tolerance ...");
  bind_field(c, f, p + "patience", k + "patience", [=](LatfConfig& x) -> auto& { return phase_of(x).patience; },
             phase + ": ... for this many consecutive epochs");
  bind_field(c, f, p + "refinements", k + "refinements",
             [=](LatfConfig& x) -> auto& { return phase_of(x).refinements; }, phase + ": label refinements");
  bind_field(c, f, p + "max-epochs", k + "max_epochs",
             [=](LatfConfig& x) -> auto& { return phase_of(x).max_epochs; }, phase + ": epoch limit per refinement round");
}

}  // namespace

// Each flag names its config key: a flag given on the command line drops that key's list.
void add_config_flags(CLI::App& c, ConfigFlags& f) {
  c.add_option("--config", f.config_file, "TOML file of hyperparameters (keys as in config.json); flags override it")
      ->check(CLI::ExistingFile);
  bind_field(c, f, "--lag", "lag", LATF_FIELD(lag), "Lag time Δt in frames");
  bind_field(c, f, "--reference-temperature", "reference_temperature", LATF_FIELD(reference_temperature),
             "T_ref (0 = the lowest training temperature)");
  bind_field(c, f, "--validation-fraction", "validation_fraction", LATF_FIELD(validation_fraction),
             "Fraction of pairs held out");
  bind_field(c, f, "--seed", "seed", LATF_FIELD(seed), "Random seed (split, initialisation, noise)");
  f.encoder_option = c.add_option("--encoder", f.encoder, "Encoder kind")
                         ->check(CLI::IsMember({"linear", "nonlinear"}))
                         ->capture_default_str();
  bind_field(c, f, "--latent-dim", "spib.latent_dim", LATF_FIELD(spib.latent_dim), "Latent dimension d");
  bind_field(c, f, "--encoder-width", "spib.encoder_width", LATF_FIELD(spib.encoder_width),
             "Hidden width n1 of the nonlinear encoder");
  bind_field(c, f, "--decoder-width", "spib.decoder_width", LATF_FIELD(spib.decoder_width),
             "Hidden width n2 of the decoder");
  CLI::Option* variance = c.add_flag("--input-dependent-variance", f.config.spib.input_dependent_variance,
                                     "Learn log σ²(x) per input instead of one scalar");
  f.bindings.push_back({variance, "spib.input_dependent_variance", [](LatfConfig& to, const LatfConfig& from) {
                          to.spib.input_dependent_variance = from.spib.input_dependent_variance;
                        }});
  bind_field(c, f, "--beta", "spib.beta", LATF_FIELD(spib.beta), "Weight β of the prior term");
  bind_field(c, f, "--initial-states", "spib.initial_states", LATF_FIELD(spib.initial_states),
             "K0 of the k-means initial labels");
  bind_field(c, f, "--flow-layers", "flow.layers", LATF_FIELD(flow.layers), "RealNVP coupling layers L");
  bind_field(c, f, "--flow-hidden", "flow.hidden", LATF_FIELD(flow.hidden), "Hidden width h of the conditioners");
  bind_field(c, f, "--tau", "flow.tau", LATF_FIELD(flow.tau), "Tilt τ of the prior");
  bind_field(c, f, "--scale-clamp", "flow.scale_clamp", LATF_FIELD(flow.scale_clamp),
             "Soft clamp of the flow's log-scale (0 = none)");
  add_phase_flags(c, f, "spib", "SPIB phase", LATF_FIELD(spib_phase));
  add_phase_flags(c, f, "joint", "joint phase", LATF_FIELD(joint_phase));
}

ResolvedConfig resolve_config(const ConfigFlags& flags) {
  ResolvedConfig r;
  if (!flags.config_file.empty()) r.grid = apply_toml_config(flags.config_file, r.config);
  const auto given = [&r](const std::string& key) {
    std::erase_if(r.grid, [&key](const GridAxis& axis) { return axis.key == key; });
  };
  for (const FlagBinding& b : flags.bindings)
    if (b.option->count() > 0) {
      b.copy(r.config, flags.config);
      given(b.key);
    }
  if (flags.encoder_option->count() > 0) {
    r.config.spib.encoder = flags.encoder == "nonlinear" ? models::EncoderKind::Nonlinear : models::EncoderKind::Linear;
    given("spib.encoder");
  }
  // A typo such as a list of 1000 seeds in three keys should not start a years-long grid.
  constexpr std::size_t kMaxCombinations = 10000;
  std::size_t combinations = 1;
  for (const GridAxis& axis : r.grid) {
    combinations *= axis.values.size();
    if (combinations > kMaxCombinations)
      throw UsageError("--config " + flags.config_file + ": the lists span more than " +
                       std::to_string(kMaxCombinations) + " combinations");
  }
  try {
    models::validate(r.config);
  } catch (const InvalidArgument& e) {
    throw UsageError(std::string("invalid configuration: ") + e.what());
  }
  return r;
}

}  // namespace latf::cli
