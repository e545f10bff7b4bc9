#pragma once
// Using a LaTF model without gradients: encoding frames, decoding states, and generating latent
// samples at any temperature (prior sampling → G), in batches on the model's device.
#include <cstdint>
#include <vector>

#include "models/latf_model.hpp"

namespace latf::models {

struct EncodedFrames {
  Tensor latent_mean;                 // [N, d] μ(x)
  Tensor state_probabilities;         // [N, K] q(k | μ(x))
  std::vector<std::int64_t> labels;   // argmax_k
};

// Frames in the model's (normalised) input space [N, D] → latent means [N, d].
Tensor encode_normalized(const LatfModel& model, const Tensor& inputs);
// Raw descriptors [N, D] (normalised here with the model's statistics) → means, probabilities, labels.
EncodedFrames encode_frames(const LatfModel& model, const Tensor& raw_frames);
// argmax_k q(k | u) for latent points [N, d].
std::vector<std::int64_t> decode_states(const LatfModel& model, const Tensor& latent);

// n samples of u = G(z), z from the tilted prior at temperature T (absolute, same units as the
// training temperatures), on the CPU [n, d].
Tensor sample_latent(const LatfModel& model, double temperature, std::int64_t n, std::uint64_t seed);

struct PopulationEstimate {
  double temperature = 0;
  std::vector<double> mean, error;  // per state; error = standard error over independent blocks
};
// State populations of generated samples at temperature T: `blocks` independent sample sets of
// `samples_per_block` each; the mean and its standard error over the blocks.
PopulationEstimate generated_populations(const LatfModel& model, double temperature, std::int64_t samples_per_block,
                                         int blocks, std::uint64_t seed);

}  // namespace latf::models
