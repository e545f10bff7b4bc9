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

// What both systems take on the command line; `Config` holds the system's own dynamics defaults.
template <class Config>
struct SimulateOptions {
  std::string temperatures, out, device = "cpu";
  std::int64_t frames = 0;
  int replicas = 1;
  std::uint64_t seed = 0;
  Config dynamics;  // time step, friction, steps per frame, equilibration
  bool overwrite = false, quiet = false;
};

template <class Config>
void add_simulate_options(CLI::App& command, SimulateOptions<Config>& o, const std::string& example_temperatures) {
  command.add_option("--temperatures", o.temperatures, "Comma-separated temperatures, e.g. " + example_temperatures)
      ->required();
  command.add_option("--frames", o.frames, "Frames per trajectory")->required()->check(positive());
  command.add_option("--replicas", o.replicas, "Independent trajectories per temperature")
      ->capture_default_str()->check(positive());
  command.add_option("--seed", o.seed, "Random seed")->capture_default_str();
  command.add_option("--out", o.out, "Output directory (created; must not exist)")->required();
  command.add_option("--time-step", o.dynamics.time_step, "Integration time step")
      ->capture_default_str()->check(positive());
  command.add_option("--friction", o.dynamics.friction, "Langevin friction")->capture_default_str()->check(positive());
  command.add_option("--steps-per-frame", o.dynamics.steps_per_frame, "Integration steps between frames")
      ->capture_default_str()->check(positive());
  command.add_option("--equilibration-steps", o.dynamics.equilibration_steps, "Steps before the first frame")
      ->capture_default_str()->check(non_negative());
  command.add_option("--device", o.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  command.add_flag("--overwrite", o.overwrite, "Replace an existing output directory");
  command.add_flag("--quiet", o.quiet, "No progress output");
}

// One per-frame quantity of a simulation, [R, F, C] on the CPU, written as `<prefix>_<i>.npy`
// per replica and named in the manifest entry under `key`.
struct FrameSeries {
  const char* key;
  const char* prefix;
  Tensor frames;
};

// Frames [R, F, C] → replica r's [F, C] as its own CPU tensor.
Tensor replica_slice(const Tensor& all, std::int64_t r) {
  const std::int64_t frames = all.dim(1), columns = all.dim(2);
  return all.view(r * frames * columns, {frames, columns}).clone();
}

// The loop over temperatures both systems share: `simulate(config, device)` runs one temperature
// and returns its series, the first of which is the trajectory ("file" in the manifest).
template <class Config, class Simulate>
void simulate_temperatures(const SimulateOptions<Config>& o, Simulate simulate) {
  const std::vector<double> temperatures = parse_temperatures(o.temperatures, "--temperatures");
  const Device device = device_option(o.device);
  require_usable(device);
  StagedDirectory out(o.out, o.overwrite);
  nlohmann::ordered_json manifest = nlohmann::ordered_json::array();
  int file_index = 0;
  for (std::size_t t = 0; t < temperatures.size(); ++t) {
    Config sim = o.dynamics;
    sim.temperature = temperatures[t];
    sim.frames = o.frames;
    sim.replicas = o.replicas;
    sim.seed = o.seed * 1000 + t;  // one independent noise stream per temperature
    systems::validate(sim);
    const std::vector<FrameSeries> series = simulate(sim, device);
    for (int r = 0; r < sim.replicas; ++r, ++file_index) {
      nlohmann::ordered_json entry;
      for (std::size_t k = 0; k < series.size(); ++k) {
        const std::string name = std::string(series[k].prefix) + "_" + std::to_string(file_index) + ".npy";
        data::write_npy(out.file(name), replica_slice(series[k].frames, r));
        if (k == 0) entry = {{"file", name}, {"temperature", sim.temperature}, {"replica", r}};
        else entry[series[k].key] = name;
      }
      manifest.push_back(entry);
    }
    if (!o.quiet)
      std::printf("T = %g: %d replicas x %lld frames\n", sim.temperature, sim.replicas, static_cast<long long>(sim.frames));
  }
  write_json(out.file("manifest.json"), manifest);
  out.commit();
  if (!o.quiet) std::printf("wrote %d trajectories and manifest.json to %s\n", file_index, out.final_path().c_str());
}

std::vector<FrameSeries> three_hole_series(systems::LangevinConfig sim, const Device& device) {
  // Exact Boltzmann starts: the data are at equilibrium across the wells from frame 0, which
  // the dynamics alone would not reach at low T (rare barrier crossings).
  sim.initial_positions = systems::exact_samples(sim.temperature, sim.replicas, sim.seed + 17);
  return {{"file", "traj", systems::simulate_three_hole(sim, device).to(Device::cpu())}};
}

std::vector<FrameSeries> lj7_series(const systems::Lj7Config& sim, const Device& device) {
  const systems::Lj7Trajectories result = systems::simulate_lj7(sim, device);
  return {{"file", "traj", result.descriptors.to(Device::cpu())},
          {"order_parameters", "order", result.order_parameters.to(Device::cpu())}};
}

}  // namespace

void add_simulate_command(CLI::App& app) {
  CLI::App* simulate = app.add_subcommand("simulate", "Generate training data with a built-in system");
  simulate->require_subcommand(1);
  CLI::App* three_hole =
      simulate->add_subcommand("three-hole", "Langevin dynamics on the three-hole potential (METHOD.md §9)");
  auto three_hole_options = std::make_shared<SimulateOptions<systems::LangevinConfig>>();
  add_simulate_options(*three_hole, *three_hole_options, "0.7,1.5");
  three_hole->callback([o = three_hole_options] { simulate_temperatures(*o, three_hole_series); });
  CLI::App* lj7 = simulate->add_subcommand(
      "lj7", "Langevin dynamics of the 2-D LJ7 cluster (METHOD.md §9): sorted coordination numbers and (mu2, mu3)");
  auto lj7_options = std::make_shared<SimulateOptions<systems::Lj7Config>>();
  add_simulate_options(*lj7, *lj7_options, "0.2,0.5");
  lj7->callback([o = lj7_options] { simulate_temperatures(*o, lj7_series); });
}

}  // namespace latf::cli
