#include "models/config.hpp"

#include <cmath>

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

}  // namespace latf::models
