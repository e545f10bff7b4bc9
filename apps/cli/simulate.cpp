// `latf simulate three-hole|lj7`: Langevin trajectories of a built-in system at several
// temperatures, one .npy per replica and temperature, plus the manifest `latf train` reads.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "apps/cli/commands.hpp"
#include "apps/cli/common.hpp"
#include "apps/cli/validators.hpp"
#include "data/npy.hpp"
#include "engine/device.hpp"
#include "systems/langevin.hpp"
#include "systems/lj7.hpp"
#include "systems/three_hole_reference.hpp"

namespace latf::cli {

namespace {

struct SimulateOptions {
  std::string temperatures, out, device = "cpu";
  std::int64_t frames = 0;
  int replicas = 1;
  std::uint64_t seed = 0;
  systems::LangevinConfig dynamics;  // time step, friction, steps per frame, equilibration
  bool overwrite = false, quiet = false;
};

void run_three_hole(const SimulateOptions& o) {
  const std::vector<double> temperatures = parse_temperatures(o.temperatures, "--temperatures");
  const Device device = device_option(o.device);
  require_usable(device);
  StagedDirectory out(o.out, o.overwrite);
  nlohmann::ordered_json manifest = nlohmann::ordered_json::array();
  int file_index = 0;
  for (std::size_t t = 0; t < temperatures.size(); ++t) {
    systems::LangevinConfig sim = o.dynamics;
    sim.temperature = temperatures[t];
    sim.frames = o.frames;
    sim.replicas = o.replicas;
    sim.seed = o.seed * 1000 + t;  // one independent noise stream per temperature
    systems::validate(sim);
    // Exact Boltzmann starts: the data are at equilibrium across the wells from frame 0, which
    // the dynamics alone would not reach at low T (rare barrier crossings).
    sim.initial_positions = systems::exact_samples(sim.temperature, sim.replicas, sim.seed + 17);
    const Tensor frames = systems::simulate_three_hole(sim, device).to(Device::cpu());
    for (int r = 0; r < sim.replicas; ++r, ++file_index) {
      const std::string name = "traj_" + std::to_string(file_index) + ".npy";
      data::write_npy(out.file(name), frames.view(static_cast<std::int64_t>(r) * sim.frames * 2, {sim.frames, 2}).clone());
      manifest.push_back({{"file", name}, {"temperature", sim.temperature}, {"replica", r}});
    }
    if (!o.quiet)
      std::printf("T = %g: %d replicas x %lld frames\n", sim.temperature, sim.replicas, static_cast<long long>(sim.frames));
  }
  write_json(out.file("manifest.json"), manifest);
  out.commit();
  if (!o.quiet) std::printf("wrote %d trajectories and manifest.json to %s\n", file_index, out.final_path().c_str());
}

struct Lj7Options {
  std::string temperatures, out, device = "cpu";
  std::int64_t frames = 0;
  int replicas = 1;
  std::uint64_t seed = 0;
  systems::Lj7Config dynamics;  // time step, friction, steps per frame, equilibration
  bool overwrite = false, quiet = false;
};

// Frames [R, F, C] → replica r's [F, C] as its own CPU tensor.
Tensor replica_slice(const Tensor& all, std::int64_t r) {
  const std::int64_t frames = all.dim(1), columns = all.dim(2);
  return all.view(r * frames * columns, {frames, columns}).clone();
}

void run_lj7(const Lj7Options& o) {
  const std::vector<double> temperatures = parse_temperatures(o.temperatures, "--temperatures");
  const Device device = device_option(o.device);
  require_usable(device);
  StagedDirectory out(o.out, o.overwrite);
  nlohmann::ordered_json manifest = nlohmann::ordered_json::array();
  int file_index = 0;
  for (std::size_t t = 0; t < temperatures.size(); ++t) {
    systems::Lj7Config sim = o.dynamics;
    sim.temperature = temperatures[t];
    sim.frames = o.frames;
    sim.replicas = o.replicas;
    sim.seed = o.seed * 1000 + t;  // one independent noise stream per temperature, as three-hole
    systems::validate(sim);
    const systems::Lj7Trajectories result = systems::simulate_lj7(sim, device);
    const Tensor descriptors = result.descriptors.to(Device::cpu());
    const Tensor order = result.order_parameters.to(Device::cpu());
    for (int r = 0; r < sim.replicas; ++r, ++file_index) {
      const std::string name = "traj_" + std::to_string(file_index) + ".npy";
      const std::string order_name = "order_" + std::to_string(file_index) + ".npy";
      data::write_npy(out.file(name), replica_slice(descriptors, r));
      data::write_npy(out.file(order_name), replica_slice(order, r));
      manifest.push_back(
          {{"file", name}, {"temperature", sim.temperature}, {"replica", r}, {"order_parameters", order_name}});
    }
    if (!o.quiet)
      std::printf("T = %g: %d replicas x %lld frames\n", sim.temperature, sim.replicas, static_cast<long long>(sim.frames));
  }
  write_json(out.file("manifest.json"), manifest);
  out.commit();
  if (!o.quiet) std::printf("wrote %d trajectories and manifest.json to %s\n", file_index, out.final_path().c_str());
}

void add_lj7_command(CLI::App& simulate) {
  CLI::App* lj7 = simulate.add_subcommand(
      "lj7", "Langevin dynamics of the 2-D LJ7 cluster (METHOD.md §9): sorted coordination numbers and (mu2, mu3)");
  auto o = std::make_shared<Lj7Options>();
  lj7->add_option("--temperatures", o->temperatures, "Comma-separated temperatures, e.g. 0.2,0.5")->required();
  lj7->add_option("--frames", o->frames, "Frames per trajectory")->required()->check(positive());
  lj7->add_option("--replicas", o->replicas, "Independent trajectories per temperature")
      ->capture_default_str()->check(positive());
  lj7->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  lj7->add_option("--out", o->out, "Output directory (created; must not exist)")->required();
  lj7->add_option("--time-step", o->dynamics.time_step, "Integration time step")->capture_default_str()->check(positive());
  lj7->add_option("--friction", o->dynamics.friction, "Langevin friction")->capture_default_str()->check(positive());
  lj7->add_option("--steps-per-frame", o->dynamics.steps_per_frame, "Integration steps between frames")
      ->capture_default_str()->check(positive());
  lj7->add_option("--equilibration-steps", o->dynamics.equilibration_steps, "Steps before the first frame")
      ->capture_default_str()->check(non_negative());
  lj7->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  lj7->add_flag("--overwrite", o->overwrite, "Replace an existing output directory");
  lj7->add_flag("--quiet", o->quiet, "No progress output");
  lj7->callback([o] { run_lj7(*o); });
}

}  // namespace

void add_simulate_command(CLI::App& app) {
  CLI::App* simulate = app.add_subcommand("simulate", "Generate training data with a built-in system");
  simulate->require_subcommand(1);
  CLI::App* three_hole =
      simulate->add_subcommand("three-hole", "Langevin dynamics on the three-hole potential (METHOD.md §9)");
  auto o = std::make_shared<SimulateOptions>();
  three_hole->add_option("--temperatures", o->temperatures, "Comma-separated temperatures, e.g. 0.7,1.5")->required();
  three_hole->add_option("--frames", o->frames, "Frames per trajectory")->required()->check(positive());
  three_hole->add_option("--replicas", o->replicas, "Independent trajectories per temperature")
      ->capture_default_str()->check(positive());
  three_hole->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  three_hole->add_option("--out", o->out, "Output directory (created; must not exist)")->required();
  three_hole->add_option("--time-step", o->dynamics.time_step, "Integration time step")
      ->capture_default_str()->check(positive());
  three_hole->add_option("--friction", o->dynamics.friction, "Langevin friction")
      ->capture_default_str()->check(positive());
  three_hole->add_option("--steps-per-frame", o->dynamics.steps_per_frame, "Integration steps between frames")
      ->capture_default_str()->check(positive());
  three_hole->add_option("--equilibration-steps", o->dynamics.equilibration_steps, "Steps before the first frame")
      ->capture_default_str()->check(non_negative());
  three_hole->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  three_hole->add_flag("--overwrite", o->overwrite, "Replace an existing output directory");
  three_hole->add_flag("--quiet", o->quiet, "No progress output");
  three_hole->callback([o] { run_three_hole(*o); });
  add_lj7_command(*simulate);
}

}  // namespace latf::cli
