#include "apps/cli/outputs.hpp"

#include "data/npy.hpp"

namespace latf::cli {

void write_encoded(const models::EncodedFrames& encoded, const std::string& prefix) {
  data::write_npy(prefix + "latent_mean.npy", encoded.latent_mean);
  data::write_npy(prefix + "state_probabilities.npy", encoded.state_probabilities);
  data::write_npy(prefix + "labels.npy", encoded.labels, {static_cast<std::int64_t>(encoded.labels.size())});
}

}  // namespace latf::cli
