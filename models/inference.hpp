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
// training temperatures), on the CPU [n, d]. Sample i is prior draw i of `seed` (the prior-row
// stream that count_generated_states uses), whatever the batching.
Tensor sample_latent(const LatfModel& model, double temperature, std::int64_t n, std::uint64_t seed);

struct StateCounts {
  double temperature = 0;
  std::int64_t samples = 0;
  std::vector<std::int64_t> counts;  // per state k: samples whose argmax_k q(k | G(z)) is k; sums to `samples`
};
// How many of n generated samples at temperature T fall in each state, without leaving the
// model's device: prior draws, G and the decoder run in batches of `chunk` rows (buffers reused),
// argmaxes are counted on the device, and the counts are read back once at the end. Sample i is
// prior draw i of `seed` (as in sample_latent), so the counts do not depend on `chunk` beyond
// floating-point differences of the batched G (which could move a sample lying within rounding
// of a state boundary). On the CPU batches are capped at 65536 rows (larger ones are slower
// and only cost memory); the GPU uses `chunk` as given. Throws InvalidArgument for n ≤ 0, T ≤ 0, chunk ≤ 0, or when G produced
// non-finite points.
StateCounts count_generated_states(const LatfModel& model, double temperature, std::int64_t n, std::uint64_t seed,
                                   std::int64_t chunk = std::int64_t{1} << 20);

struct PopulationEstimate {
  double temperature = 0;
  std::vector<double> mean, error;  // per state; error = standard error over independent blocks
};
// State populations of generated samples at temperature T: `blocks` independent sample sets of
// `samples_per_block` each (count_generated_states with seed + 7919·b for block b); the mean and
// its standard error over the blocks.
PopulationEstimate generated_populations(const LatfModel& model, double temperature, std::int64_t samples_per_block,
                                         int blocks, std::uint64_t seed);

}  // namespace latf::models
