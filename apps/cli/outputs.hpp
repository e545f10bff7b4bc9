#pragma once
// Files written by more than one subcommand.
#include <string>

#include "models/inference.hpp"

namespace latf::cli {

// <prefix>latent_mean.npy [N, d] float32, <prefix>state_probabilities.npy [N, K] float32,
// <prefix>labels.npy [N] int64.
void write_encoded(const models::EncodedFrames& encoded, const std::string& prefix);

}  // namespace latf::cli
