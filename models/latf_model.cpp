#include "models/latf_model.hpp"

namespace latf::models {

LatfModel LatfModel::create(const LatfConfig& config, int descriptors, int states, Normalization normalization,
                            double reference_temperature, const Device& device) {
  validate(config);
  require_usable(device);
  LatfModel model;
  model.config = config;
  model.normalization = std::move(normalization);
  model.reference_temperature = reference_temperature;
  model.spib = std::make_unique<SpibModel>(SpibShape{descriptors, states, config.spib}, device, config.seed);
  model.flow = std::make_unique<RealNvp>(config.spib.latent_dim, config.flow, device, config.seed + 1);
  return model;
}

Device LatfModel::device() const { return spib->parameters().flat_values().device(); }

}  // namespace latf::models
