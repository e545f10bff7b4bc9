#pragma once
// Model checkpoints: the complete LatfModel (configuration, normalisation, T_ref, SPIB weights
// over the current states including the pseudo-inputs, flow weights), optionally the state of
// both Adam optimizers, and free-form string metadata, in one versioned little-endian file
// (docs/checkpoint-format.md). Values are stored as float32 bit patterns, so a model saved from
// one device loads bit-identically on any other.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "autodiff/optimizer.hpp"
#include "kernels/adam.hpp"
#include "models/latf_model.hpp"

namespace latf::models {

// The format version this engine writes; readers accept exactly this one (and reject newer).
inline constexpr std::uint32_t kCheckpointVersion = 1;

// A saved Adam: rebuild with autodiff::Adam(parameters, config) and then
// adam.restore(steps, first_moment, second_moment).
struct OptimizerState {
  std::int64_t steps = 0;
  Tensor first_moment, second_moment;  // flat, one entry per scalar of the ParameterSet
  kernels::AdamConfig config;
};

struct Checkpoint {
  LatfModel model;
  std::map<std::string, std::string> metadata;
  std::optional<OptimizerState> spib_optimizer, flow_optimizer;
};

// Writes atomically (temporary file, fsync, rename): `path` holds either its old content or the
// complete new checkpoint. The optimizers, when given, must be those of model.spib / model.flow.
// Throws InvalidArgument naming the file and the problem (non-finite values included: a written
// checkpoint always loads).
void save_checkpoint(const std::string& path, const LatfModel& model,
                     const std::map<std::string, std::string>& metadata = {},
                     const autodiff::Adam* spib_optimizer = nullptr, const autodiff::Adam* flow_optimizer = nullptr);

// Validates everything (magic, version, sizes, header keys, configuration, tensor list and
// shapes, finiteness) before returning; throws InvalidArgument naming the file and what is wrong.
Checkpoint load_checkpoint(const std::string& path, const Device& device);

}  // namespace latf::models
