#pragma once
// Files written by more than one subcommand.
#include <string>

#include <nlohmann/json.hpp>

#include "models/inference.hpp"
#include "models/trainer.hpp"

namespace latf::cli {

// <prefix>latent_mean.npy [N, d] float32, <prefix>state_probabilities.npy [N, K] float32,
// <prefix>labels.npy [N] int64.
void write_encoded(const models::EncodedFrames& encoded, const std::string& prefix);

// One epoch of history.json (keys in apps/cli/README.md, "Run directory"): `latf train` and `latf demo`.
nlohmann::ordered_json history_entry(const models::EpochRecord& record);

}  // namespace latf::cli
