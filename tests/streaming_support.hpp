#pragma once
// The model the streaming-generation tests share (CPU and `gpu`): fresh couplings start as
// G = id, so the flow is perturbed away from the identity, and the random decoder splits the
// latent plane among four states.
#include "engine/random_fill.hpp"
#include "models/latf_model.hpp"

namespace latf::testing {

inline models::LatfModel streaming_model(const Device& device, double flow_weight = 0.3) {
  models::LatfConfig config;
  config.flow.layers = 3;
  config.flow.tau = 1.5;
  models::Normalization normalization{{0, 0, 0}, {1, 1, 1}};
  models::LatfModel model = models::LatfModel::create(config, 3, 4, normalization, 2.0, device);
  Tensor flow = model.flow->parameters().flat_values();
  fill_uniform(flow, 123, 0, -flow_weight, flow_weight);
  return model;
}

}  // namespace latf::testing
