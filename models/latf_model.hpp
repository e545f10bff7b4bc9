#pragma once
// A trained (or training) LaTF model: everything needed to use it without its training data —
// the configuration, the descriptor normalisation, T_ref, the SPIB networks over the current
// states and the RealNVP flow.
#include <memory>

#include "models/config.hpp"
#include "models/dataset.hpp"
#include "models/realnvp.hpp"
#include "models/spib.hpp"

namespace latf::models {

struct LatfModel {
  LatfConfig config;
  Normalization normalization;
  double reference_temperature = 1.0;
  std::unique_ptr<SpibModel> spib;
  std::unique_ptr<RealNvp> flow;

  // Fresh, seeded networks for `states` states over `descriptors` inputs on `device`.
  static LatfModel create(const LatfConfig& config, int descriptors, int states, Normalization normalization,
                          double reference_temperature, const Device& device);
  Device device() const;
  int latent_dim() const { return config.spib.latent_dim; }
};

}  // namespace latf::models
