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

// n latent samples generated at temperature T (models::sample_latent) and their decoded states:
// <prefix>latent.npy [n, d] float32, <prefix>states.npy [n] int64 (`latf sample`, `latf demo`).
void write_samples(const models::LatfModel& model, double temperature, std::int64_t n, std::uint64_t seed,
                   const std::string& prefix);

// One epoch of history.json (keys in apps/cli/README.md, "Run directory"): `latf train` and `latf demo`.
nlohmann::ordered_json history_entry(const models::EpochRecord& record);

}  // namespace latf::cli
