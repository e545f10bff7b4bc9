// `latf simulate three-hole`: Langevin trajectories of the built-in three-hole system at several
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
}

}  // namespace latf::cli
