// `latf train`: both training phases on .npy trajectories; the run directory appears only when
// everything in it has been written (apps/cli/README.md describes its content). A --config with
// list-valued keys runs one training per combination (apps/cli/grid_search.hpp).
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>

#include <CLI/CLI.hpp>

#include "apps/cli/commands.hpp"
#include "apps/cli/common.hpp"
#include "apps/cli/config_options.hpp"
#include "apps/cli/grid_search.hpp"
#include "apps/cli/inputs.hpp"
#include "apps/cli/outputs.hpp"
#include "apps/cli/progress.hpp"
#include "data/npy.hpp"
#include "models/checkpoint.hpp"
#include "models/inference.hpp"
#include "models/trainer.hpp"

namespace latf::cli {

namespace {

struct TrainOptions {
  std::vector<std::string> data;
  std::string temperatures, out, device = "auto";
  ConfigFlags flags;
  bool quiet = false, overwrite = false, progress = false;
};

void print_epoch(const models::EpochRecord& r) {
  std::printf("%-5s round %d epoch %4d  lr %.2e  loss %.5f (rec %.5f, prior %.4f)  val %.5f  states %d  pop",
              models::phase_name(r.phase), r.round, r.epoch, r.learning_rate, r.train.total, r.train.reconstruction,
              r.train.prior, r.validation.total, r.states);
  constexpr std::size_t kShown = 8;  // long population lists (e.g. 100 k-means states) are cut
  for (std::size_t k = 0; k < r.populations.size() && k < kShown; ++k) std::printf(" %.3f", r.populations[k]);
  if (r.populations.size() > kShown) std::printf(" (+%zu more)", r.populations.size() - kShown);
  std::printf("  %.2fs\n", r.seconds);
  std::fflush(stdout);
}

// Pseudo-inputs of the VampPrior, one per state, mapped back to raw descriptor units.
Tensor representative_inputs(const models::LatfModel& model) {
  Tensor pseudo = model.spib->parameters().value("pseudo_inputs").to(Device::cpu()).clone();
  const auto& norm = model.normalization;
  float* p = pseudo.data<float>();
  const std::int64_t d = pseudo.dim(1);
  for (std::int64_t i = 0; i < pseudo.numel(); ++i) p[i] = p[i] * norm.scale[i % d] + norm.mean[i % d];
  return pseudo;
}

// Dataset, both training phases and every output file of one run, written into `folder` (which
// exists). Nothing escapes as an exception: the result says how the run ended, and one that
// failed after an epoch leaves the last good checkpoint, history.json and config.json behind.
RunResult train_once(const models::LatfConfig& config, const std::vector<models::Trajectory>& trajectories,
                     const Device& device, const std::filesystem::path& folder, bool quiet, bool progress) {
  const auto start = std::chrono::steady_clock::now();
  const auto file = [&folder](const std::string& name) { return (folder / name).string(); };
  RunResult result;
  try {
    std::vector<Tensor> raw;
    for (const auto& t : trajectories) raw.push_back(t.frames);
    models::DatasetOptions data_options;
    data_options.lag = config.lag;
    data_options.reference_temperature = config.reference_temperature;
    data_options.validation_fraction = config.validation_fraction;
    data_options.seed = config.seed;
    data_options.initial_states = config.spib.initial_states;
    models::Dataset dataset = models::Dataset::build(trajectories, data_options);
    if (!quiet)
      std::printf("data: %zu trajectories, %lld frames, %d descriptors, %d initial states, T_ref = %g, device %s\n",
                  raw.size(), static_cast<long long>(dataset.frames()), dataset.descriptors(), dataset.states(),
                  dataset.reference_temperature(), device.str().c_str());

    const std::map<std::string, std::string> metadata = {{"created_by", "latf train"}};
    models::Trainer trainer(config, dataset, device);
    trainer.set_divergence_hook([&result] { result.diverged = true; });
    const std::unique_ptr<ProgressBar> bar = stderr_progress_bar(quiet, progress);
    show_progress(trainer, bar.get());
    nlohmann::ordered_json history = nlohmann::ordered_json::array();
    try {
      trainer.train([&](const models::EpochRecord& r) {
        history.push_back(history_entry(r));
        // The last good state, kept should a later epoch diverge.
        models::save_checkpoint(file("model.latf"), trainer.model(), metadata);
        result.partial = true;
        result.train_loss = r.train.total;
        result.validation_loss = r.validation.total;
        result.states = r.states;
        ++result.epochs;
        if (bar) bar->clear();  // the summary line replaces the bar
        if (!quiet) print_epoch(r);
      });
    } catch (const std::exception&) {
      if (result.partial) {
        write_json(file("history.json"), history);
        write_json(file("config.json"), models::config_to_json(config));
      }
      throw;
    }
    result.partial = false;  // from here on a failure is an I/O error, not a partial run

    models::save_checkpoint(file("model.latf"), trainer.model(), metadata);
    write_json(file("config.json"), models::config_to_json(config));
    write_json(file("history.json"), history);
    for (std::size_t k = 0; k < raw.size(); ++k)
      write_encoded(models::encode_frames(trainer.model(), raw[k]), file("traj_" + std::to_string(k) + "_"));
    const std::vector<double> populations = dataset.train_populations();
    data::write_npy(file("state_populations.npy"), populations, {static_cast<std::int64_t>(populations.size())});
    data::write_npy(file("representative_inputs.npy"), representative_inputs(trainer.model()));
    result.states = dataset.states();
    result.ok = true;
  } catch (...) {
    result.error = std::current_exception();
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

void run_train(const TrainOptions& o) {
  const ResolvedConfig resolved = resolve_config(o.flags);
  const std::vector<GridPoint> points = expand_grid(resolved.grid);
  // Every combination is checked before anything is created.
  const std::vector<models::LatfConfig> configs = grid_configurations(resolved.config, resolved.grid, points);
  const std::vector<double> temperatures =
      o.temperatures.empty() ? std::vector<double>{} : parse_temperatures(o.temperatures, "--temperatures");
  const Device device = device_option(o.device);
  require_usable(device);
  StagedDirectory out(o.out, o.overwrite);  // before the data: an existing RUN_DIR fails at once
  const std::vector<models::Trajectory> trajectories = load_trajectories(o.data, temperatures);

  if (!resolved.grid.empty()) {
    const int failed = run_grid(
        resolved.grid, points, configs, out,
        [&](const models::LatfConfig& config, const std::filesystem::path& folder) {
          return train_once(config, trajectories, device, folder, o.quiet, o.progress);
        },
        o.quiet);
    if (failed > 0)
      throw std::runtime_error(std::to_string(failed) + " of " + std::to_string(points.size()) +
                               " grid combinations failed (see " + (out.final_path() / "summary.tsv").string() + ")");
    return;
  }

  // The staging directory itself is the run's folder.
  const RunResult result = train_once(resolved.config, trajectories, device, out.file(""), o.quiet, o.progress);
  if (!result.ok) {
    if (!result.partial) std::rethrow_exception(result.error);
    std::filesystem::path failed = out.final_path();
    failed += ".failed";
    out.commit_as(failed);
    try {
      std::rethrow_exception(result.error);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(e.what()) + " (last good checkpoint and history kept in " +
                               failed.string() + ")");
    }
  }
  out.commit();
  if (!o.quiet) std::printf("wrote %s (%d states)\n", out.final_path().c_str(), result.states);
}

}  // namespace

void add_train_command(CLI::App& app) {
  CLI::App* train = app.add_subcommand("train", "Train SPIB and the flow on trajectories (.npy or manifest)");
  auto o = std::make_shared<TrainOptions>();
  train->add_option("--data", o->data, "Manifest (.json) and/or trajectory (.npy [N, D]) files")->required()->expected(1, -1);
  train->add_option("--temperatures", o->temperatures,
                    "Temperatures of the .npy files given directly: one for all, or one per file");
  train->add_option("--out", o->out, "Run directory (created; must not exist)")->required();
  train->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  add_config_flags(*train, o->flags);
  train->add_flag("--overwrite", o->overwrite, "Replace an existing run directory");
  train->add_flag("--quiet", o->quiet, "No per-epoch output and no progress bar");
  train->add_flag("--progress", o->progress, "Draw the progress bar on stderr even when it is not a terminal");
  train->callback([o] { run_train(*o); });
}

}  // namespace latf::cli
