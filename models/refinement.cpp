#include "models/refinement.hpp"

#include <cmath>

#include "engine/error.hpp"
#include "models/inference.hpp"

namespace latf::models {

Refinement refine_states(const LatfModel& model, const Dataset& data) {
  // (1) relabel every frame by the decoder applied to its encoded mean: the target of pair
  // (t, t+Δt) becomes argmax_k q(k | μ(x_{t+Δt})).
  const Tensor means = encode_normalized(model, data.inputs());
  std::vector<std::int64_t> labels = decode_states(model, means);
  const int old_states = model.spib->states();
  const std::vector<float>& w = data.frame_weights();
  std::vector<double> population(old_states, 0.0);
  for (std::size_t f = 0; f < labels.size(); ++f) population[labels[f]] += w[f];
  // (2) drop empty states and shrink the decoder.
  std::vector<int> keep, renumber(old_states, -1);
  for (int k = 0; k < old_states; ++k)
    if (population[k] > 0) {
      renumber[k] = static_cast<int>(keep.size());
      keep.push_back(k);
    }
  LATF_REQUIRE(keep.size() >= 2, "label refinement: only ", keep.size(),
               " state remains populated; the data show no second metastable state at this lag and β");
  for (std::int64_t& l : labels) l = renumber[l];
  auto next = std::make_unique<SpibModel>(model.spib->with_states(keep));
  // (3) pseudo-input of each state = the frame whose μ is nearest the state's weighted mean μ.
  const int d = model.config.spib.latent_dim;
  const float* mu = means.data<float>();
  std::vector<double> centre(keep.size() * d, 0.0), mass(keep.size(), 0.0);
  for (std::size_t f = 0; f < labels.size(); ++f) {
    mass[labels[f]] += w[f];
    for (int j = 0; j < d; ++j) centre[labels[f] * d + j] += w[f] * mu[f * d + j];
  }
  std::vector<double> best(keep.size(), INFINITY);
  std::vector<std::int64_t> nearest(keep.size(), 0);
  for (std::size_t k = 0; k < keep.size(); ++k)
    for (int j = 0; j < d; ++j) centre[k * d + j] /= mass[k];
  for (std::size_t f = 0; f < labels.size(); ++f) {
    const std::int64_t k = labels[f];
    double dist = 0;
    for (int j = 0; j < d; ++j) dist += (mu[f * d + j] - centre[k * d + j]) * (mu[f * d + j] - centre[k * d + j]);
    if (dist < best[k]) {
      best[k] = dist;
      nearest[k] = static_cast<std::int64_t>(f);
    }
  }
  const float* x = data.inputs().data<float>();
  for (std::size_t k = 0; k < keep.size(); ++k)
    next->set_pseudo_input(static_cast<int>(k), x + nearest[k] * data.descriptors());
  Refinement result;
  result.spib = std::move(next);
  result.labels = std::move(labels);
  result.states = static_cast<int>(keep.size());
  return result;
}

}  // namespace latf::models
