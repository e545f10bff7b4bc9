#include "models/config.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/error.hpp"

namespace latf::models {

namespace {
void validate_phase(const PhaseConfig& p, const char* phase) {
  LATF_REQUIRE(p.batch_size >= 1, phase, ".batch_size: expected ≥ 1, got ", p.batch_size);
  LATF_REQUIRE(p.learning_rate > 0 && std::isfinite(p.learning_rate), phase, ".learning_rate: expected > 0, got ",
               p.learning_rate);
  LATF_REQUIRE(p.lr_decay > 0 && p.lr_decay <= 1, phase, ".lr_decay: expected in (0, 1], got ", p.lr_decay);
  LATF_REQUIRE(p.tolerance >= 0, phase, ".tolerance: expected ≥ 0, got ", p.tolerance);
  LATF_REQUIRE(p.patience >= 1, phase, ".patience: expected ≥ 1, got ", p.patience);
  LATF_REQUIRE(p.refinements >= 0, phase, ".refinements: expected ≥ 0, got ", p.refinements);
  LATF_REQUIRE(p.max_epochs >= 1, phase, ".max_epochs: expected ≥ 1, got ", p.max_epochs);
}

nlohmann::ordered_json phase_to_json(const PhaseConfig& p) {
  return {{"batch_size", p.batch_size}, {"learning_rate", p.learning_rate}, {"lr_decay", p.lr_decay},
          {"tolerance", p.tolerance},   {"patience", p.patience},           {"refinements", p.refinements},
          {"max_epochs", p.max_epochs}};
}
}  // namespace

void validate(const LatfConfig& c) {
  LATF_REQUIRE(c.lag >= 1, "lag: expected ≥ 1 frame, got ", c.lag);
  LATF_REQUIRE(c.reference_temperature >= 0, "reference_temperature: expected > 0 (or 0 = lowest), got ",
               c.reference_temperature);
  LATF_REQUIRE(c.validation_fraction >= 0 && c.validation_fraction < 1,
               "validation_fraction: expected in [0, 1), got ", c.validation_fraction);
  LATF_REQUIRE(c.spib.latent_dim >= 1 && c.spib.latent_dim <= 16, "spib.latent_dim: expected 1..16, got ",
               c.spib.latent_dim);
  LATF_REQUIRE(c.spib.encoder_width >= 1, "spib.encoder_width: expected ≥ 1, got ", c.spib.encoder_width);
  LATF_REQUIRE(c.spib.decoder_width >= 1, "spib.decoder_width: expected ≥ 1, got ", c.spib.decoder_width);
  LATF_REQUIRE(c.spib.beta >= 0, "spib.beta: expected ≥ 0, got ", c.spib.beta);
  LATF_REQUIRE(c.spib.initial_states >= 2, "spib.initial_states: expected ≥ 2, got ", c.spib.initial_states);
  LATF_REQUIRE(c.flow.layers >= 0, "flow.layers: expected ≥ 0, got ", c.flow.layers);
  LATF_REQUIRE(c.flow.hidden >= 1, "flow.hidden: expected ≥ 1, got ", c.flow.hidden);
  LATF_REQUIRE(c.flow.tau >= 0, "flow.tau: expected ≥ 0, got ", c.flow.tau);
  LATF_REQUIRE(c.flow.scale_clamp >= 0, "flow.scale_clamp: expected ≥ 0, got ", c.flow.scale_clamp);
  validate_phase(c.spib_phase, "spib_phase");
  validate_phase(c.joint_phase, "joint_phase");
}

nlohmann::ordered_json config_to_json(const LatfConfig& c) {
  return {{"lag", c.lag},
          {"reference_temperature", c.reference_temperature},
          {"validation_fraction", c.validation_fraction},
          {"seed", c.seed},
          {"spib",
           {{"encoder", c.spib.encoder == EncoderKind::Linear ? "linear" : "nonlinear"},
            {"latent_dim", c.spib.latent_dim},
            {"encoder_width", c.spib.encoder_width},
            {"decoder_width", c.spib.decoder_width},
            {"input_dependent_variance", c.spib.input_dependent_variance},
            {"beta", c.spib.beta},
            {"initial_states", c.spib.initial_states}}},
          {"flow",
           {{"layers", c.flow.layers}, {"hidden", c.flow.hidden}, {"tau", c.flow.tau}, {"scale_clamp", c.flow.scale_clamp}}},
          {"spib_phase", phase_to_json(c.spib_phase)},
          {"joint_phase", phase_to_json(c.joint_phase)}};
}

}  // namespace latf::models
