#pragma once
// Training and encoding inputs: .npy trajectories given directly or through a manifest (a JSON
// array of {"file", "temperature", optional "labels", "weights"}; apps/cli/README.md).
#include <string>
#include <vector>

#include "engine/tensor.hpp"
#include "models/dataset.hpp"

namespace latf::cli {

// Frames [N, D] (float32, CPU) from a .npy of rank 1 (D = 1) or 2, float or integer.
Tensor read_frames(const std::string& path);

// Each entry of `data` is a manifest (*.json) or a .npy trajectory; plain .npy files take their
// temperature from `temperatures` (one value for all, or one per file, in order). Every file is
// checked before anything is read at length; errors name the file (and manifest entry).
std::vector<models::Trajectory> load_trajectories(const std::vector<std::string>& data,
                                                  const std::vector<double>& temperatures);

}  // namespace latf::cli
