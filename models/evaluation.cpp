#include "models/evaluation.hpp"

#include <cmath>

#include "engine/error.hpp"
#include "models/analysis/histogram_kl.hpp"
#include "models/inference.hpp"

namespace latf::models {

analysis::GmrqResult state_gmrq(const Dataset& dataset, double validation_fraction, int rank) {
  LATF_REQUIRE(validation_fraction > 0 && validation_fraction < 1, "GMRQ validation fraction: expected in (0, 1), got ",
               validation_fraction);
  const auto& offsets = dataset.trajectory_offsets();
  const auto& labels = dataset.frame_labels();
  std::vector<std::vector<std::int64_t>> train, validation;
  for (std::size_t k = 0; k + 1 < offsets.size(); ++k) {
    const std::int64_t begin = offsets[k], end = offsets[k + 1];
    const std::int64_t cut = begin + static_cast<std::int64_t>(std::floor((1 - validation_fraction) * (end - begin)));
    // Segments too short for one lagged pair carry no information; skip them.
    if (cut - begin > dataset.lag()) train.emplace_back(labels.begin() + begin, labels.begin() + cut);
    if (end - cut > dataset.lag()) validation.emplace_back(labels.begin() + cut, labels.begin() + end);
  }
  LATF_REQUIRE(!train.empty() && !validation.empty(), "GMRQ: the trajectories are too short for a lag of ",
               dataset.lag(), " frames in both the training and the validation part");
  return analysis::gmrq(train, validation, dataset.states(), dataset.lag(), rank > 0 ? rank : dataset.states());
}

double generated_latent_kl(const LatfModel& model, const Tensor& raw_frames, double temperature,
                           std::int64_t samples, std::uint64_t seed) {
  LATF_REQUIRE(model.latent_dim() == 2, "latent KL: the histogram metric needs d = 2, the model has d = ",
               model.latent_dim());
  const Tensor data = encode_frames(model, raw_frames).latent_mean;
  const Tensor generated = sample_latent(model, temperature, samples, seed);
  return analysis::histogram_kl_divergence(data, generated);
}

std::vector<analysis::Profile> latent_free_energy_profiles(const Tensor& latent, int bins, double low, double high) {
  LATF_REQUIRE(latent.rank() == 2, "latent points: expected shape [N, d], got ", latent.shape().str());
  const std::int64_t n = latent.dim(0), d = latent.dim(1);
  const std::vector<float> values = latent.to_vector();
  std::vector<analysis::Profile> profiles;
  for (std::int64_t j = 0; j < d; ++j) {
    std::vector<float> column(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) column[i] = values[i * d + j];
    profiles.push_back(analysis::free_energy_profile(column, bins, low, high));
  }
  return profiles;
}

}  // namespace latf::models
