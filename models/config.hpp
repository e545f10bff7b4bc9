#pragma once
// Every hyperparameter of LaTF, with the reference defaults of the three-hole example
// (METHOD.md §7). Each field is overridable by the caller (the command line maps keys 1:1).
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace latf::models {

enum class EncoderKind { Linear, Nonlinear };

struct SpibConfig {
  EncoderKind encoder = EncoderKind::Linear;  // the reference example runs linear (see METHOD §7 note)
  int latent_dim = 2;                         // d
  int encoder_width = 16;                     // n1 (nonlinear encoder only)
  int decoder_width = 16;                     // n2
  // false: one learned scalar log σ² (the reference); true: SPIB's input-dependent head
  // log σ²(x) = −10·sigmoid(Linear(h)), h = the encoder's last hidden layer (x for a linear encoder).
  bool input_dependent_variance = false;
  double beta = 1e-4;                         // weight of the prior term
  int initial_states = 100;                   // K0 for k-means when no labels are given
};

struct FlowConfig {
  int layers = 10;           // L
  int hidden = 16;           // h of both conditioners
  double tau = 3.0;          // tilt of the prior
  double scale_clamp = 0.0;  // 0: the reference's unbounded exp scale; > 0: soft clamp c·tanh(·/c)
};

struct PhaseConfig {
  int batch_size = 512;
  double learning_rate = 1e-3;
  double lr_decay = 0.99;   // LR = learning_rate · lr_decay^epoch, epoch counted from the last refinement
  double tolerance = 1e-3;  // converged when |Δ epoch loss| < tolerance ...
  int patience = 5;         // ... for this many consecutive epochs
  int refinements = 10;     // label refinements (0: train to convergence once)
  int max_epochs = 10000;   // safety bound per refinement round
};

struct LatfConfig {
  int lag = 30;                       // Δt in frames
  double reference_temperature = 0;   // T_ref; 0 = the lowest training temperature
  double validation_fraction = 0.2;
  std::uint64_t seed = 0;
  SpibConfig spib;
  FlowConfig flow;
  PhaseConfig spib_phase;
  PhaseConfig joint_phase{512, 1e-3, 0.99, 0.01, 200, 1, 10000};
};

// Throws InvalidArgument naming the first out-of-range field.
void validate(const LatfConfig& config);

// Every field, nested as the checkpoint header's "config" and `latf train`'s config.json (one
// writer so that the two cannot drift apart); keys in declaration order.
nlohmann::ordered_json config_to_json(const LatfConfig& config);

}  // namespace latf::models
