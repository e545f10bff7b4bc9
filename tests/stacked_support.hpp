#pragma once
// Small stacked-training setups shared by the CPU and GPU tests of batched models: three-hole
// Langevin data at two temperatures and model configurations that differ in every key a stack
// lets differ.
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "models/config.hpp"
#include "models/dataset.hpp"
#include "systems/langevin.hpp"

namespace latf::testing {

using models::Dataset;
using models::DatasetOptions;
using models::LatfConfig;
using models::Trajectory;

inline std::vector<Trajectory> three_hole_trajectories(int replicas, int frames, double temperature, std::uint64_t seed) {
  systems::LangevinConfig sim;
  sim.temperature = temperature;
  sim.frames = frames;
  sim.replicas = replicas;
  sim.steps_per_frame = 10;
  sim.seed = seed;
  const Tensor all = systems::simulate_three_hole(sim);
  std::vector<Trajectory> trajectories;
  for (int r = 0; r < replicas; ++r) {
    Trajectory t;
    t.frames = all.view(static_cast<std::int64_t>(r) * frames * 2, {frames, 2}).clone();
    t.temperature = temperature;
    t.name = concat("T", temperature, " replica ", r);
    trajectories.push_back(t);
  }
  return trajectories;
}

// Two temperatures, so that the joint phase's temperature weights differ between rows.
inline Dataset small_dataset(const LatfConfig& config) {
  std::vector<Trajectory> trajectories = three_hole_trajectories(3, 700, 1.0, 4);
  for (Trajectory& t : three_hole_trajectories(3, 700, 1.6, 5)) trajectories.push_back(t);
  DatasetOptions options;
  options.lag = config.lag;
  options.initial_states = config.spib.initial_states;
  options.validation_fraction = config.validation_fraction;
  options.seed = 11;  // the data set's split and k-means: shared by every model of a stack
  return Dataset::build(trajectories, options);
}

inline LatfConfig base_config() {
  LatfConfig config;
  config.lag = 10;
  config.spib.initial_states = 6;
  config.spib.beta = 1e-3;
  config.spib_phase = {128, 3e-3, 0.99, 1e-3, 2, 0, 4};
  config.joint_phase = {128, 1e-3, 0.99, 1e-2, 2, 0, 3};
  config.flow.layers = 2;
  config.flow.tau = 1.0;
  config.flow.scale_clamp = 2.0;
  return config;
}

// base_config with `refinements` label refinements in the SPIB phase, two epochs per round.
inline LatfConfig refining_config(int refinements) {
  LatfConfig config = base_config();
  config.spib_phase.refinements = refinements;
  config.spib_phase.max_epochs = 2;
  return config;
}

// Three models that differ in every key a stack lets differ.
inline std::vector<LatfConfig> varied_configs() {
  std::vector<LatfConfig> configs(3, base_config());
  configs[1].seed = 7;
  configs[1].spib.beta = 3e-3;
  configs[1].flow.tau = 0.0;
  configs[2].seed = 9;
  configs[2].spib_phase.learning_rate = 1e-3;
  configs[2].joint_phase.learning_rate = 2e-3;
  configs[2].joint_phase.patience = 1;
  return configs;
}

}  // namespace latf::testing
