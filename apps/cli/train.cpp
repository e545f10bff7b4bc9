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
#include "models/stacked_trainer.hpp"
#include "models/trainer.hpp"

namespace latf::cli {

namespace {

struct TrainOptions {
  std::vector<std::string> data;
  std::string temperatures, out, device = "auto";
  ConfigFlags flags;
  bool quiet = false, overwrite = false, progress = false, stacked = false;
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

// The training set of `config` (its lag, split, seed and initial states) from the trajectories.
models::Dataset build_dataset(const models::LatfConfig& config, const std::vector<models::Trajectory>& trajectories,
                              const Device& device, bool quiet) {
  models::DatasetOptions data_options;
  data_options.lag = config.lag;
  data_options.reference_temperature = config.reference_temperature;
  data_options.validation_fraction = config.validation_fraction;
  data_options.seed = config.seed;
  data_options.initial_states = config.spib.initial_states;
  models::Dataset dataset = models::Dataset::build(trajectories, data_options);
  if (!quiet)
    std::printf("data: %zu trajectories, %lld frames, %d descriptors, %d initial states, T_ref = %g, device %s\n",
                trajectories.size(), static_cast<long long>(dataset.frames()), dataset.descriptors(), dataset.states(),
                dataset.reference_temperature(), device.str().c_str());
  return dataset;
}

// A training whose steps could not be recorded as CUDA Graphs ran op by op: correct, but slower.
void report_graph_fallback(const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "latf train: steps ran op by op, not as CUDA Graphs: %s\n", why.c_str());
}

const std::map<std::string, std::string> kMetadata = {{"created_by", "latf train"}};

// Every output file of a finished run (apps/cli/README.md), into the existing `folder`.
void write_run(const models::LatfModel& model, const nlohmann::ordered_json& history,
               const std::vector<double>& populations, const std::vector<models::Trajectory>& trajectories,
               const std::filesystem::path& folder) {
  const auto file = [&folder](const std::string& name) { return (folder / name).string(); };
  models::save_checkpoint(file("model.latf"), model, kMetadata);
  write_json(file("config.json"), models::config_to_json(model.config));
  write_json(file("history.json"), history);
  for (std::size_t k = 0; k < trajectories.size(); ++k)
    write_encoded(models::encode_frames(model, trajectories[k].frames), file("traj_" + std::to_string(k) + "_"));
  data::write_npy(file("state_populations.npy"), populations, {static_cast<std::int64_t>(populations.size())});
  data::write_npy(file("representative_inputs.npy"), representative_inputs(model));
}

// After each epoch of a run: the epoch in the history and the result, and the model as the last
// good checkpoint, kept should a later epoch diverge.
void record_epoch(const models::EpochRecord& r, const models::LatfModel& model, const std::filesystem::path& folder,
                  nlohmann::ordered_json& history, RunResult& result) {
  history.push_back(history_entry(r));
  models::save_checkpoint((folder / "model.latf").string(), model, kMetadata);
  result.partial = true;
  result.train_loss = r.train.total;
  result.validation_loss = r.validation.total;
  result.states = r.states;
  ++result.epochs;
}

// A run that failed after an epoch keeps its history and configuration next to the checkpoint.
void keep_partial_run(const models::LatfConfig& config, const nlohmann::ordered_json& history,
                      const std::filesystem::path& folder) {
  write_json((folder / "history.json").string(), history);
  write_json((folder / "config.json").string(), models::config_to_json(config));
}

// Dataset, both training phases and every output file of one run, written into `folder` (which
// exists). Nothing escapes as an exception: the result says how the run ended, and one that
// failed after an epoch leaves the last good checkpoint, history.json and config.json behind.
RunResult train_once(const models::LatfConfig& config, const std::vector<models::Trajectory>& trajectories,
                     const Device& device, const std::filesystem::path& folder, bool quiet, bool progress) {
  const auto start = std::chrono::steady_clock::now();
  RunResult result;
  try {
    models::Dataset dataset = build_dataset(config, trajectories, device, quiet);
    models::Trainer trainer(config, dataset, device);
    trainer.set_divergence_hook([&result] { result.diverged = true; });
    const std::unique_ptr<ProgressBar> bar = stderr_progress_bar(quiet, progress);
    show_progress(trainer, bar.get());
    nlohmann::ordered_json history = nlohmann::ordered_json::array();
    try {
      trainer.train([&](const models::EpochRecord& r) {
        record_epoch(r, trainer.model(), folder, history, result);
        if (bar) bar->clear();  // the summary line replaces the bar
        if (!quiet) print_epoch(r);
      });
    } catch (const std::exception&) {
      if (result.partial) keep_partial_run(config, history, folder);
      throw;
    }
    report_graph_fallback(trainer.graph_fallback());
    result.partial = false;  // from here on a failure is an I/O error, not a partial run
    write_run(trainer.model(), history, dataset.train_populations(), trajectories, folder);
    result.states = dataset.states();
    result.ok = true;
  } catch (...) {
    result.error = std::current_exception();
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

// --stacked: every configuration trains at once in one StackedTrainer (a single one as a stack of
// one: on a GPU its steps replay as CUDA Graphs), on the data set of the first (its seed makes the
// split and the initial states), each into its folder (which exists). Returns one result per
// configuration; a model that diverged is kept as its last good epoch.
std::vector<RunResult> train_stacked(const std::vector<models::LatfConfig>& configs,
                                     const std::vector<std::filesystem::path>& folders,
                                     const std::vector<models::Trajectory>& trajectories, const Device& device,
                                     bool quiet, bool progress) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<RunResult> results(configs.size());
  std::vector<nlohmann::ordered_json> histories(configs.size(), nlohmann::ordered_json::array());
  models::Dataset dataset = build_dataset(configs.front(), trajectories, device, quiet);
  models::StackedTrainer trainer(configs, dataset, device);
  if (!quiet && configs.size() > 1) std::printf("stacked: %zu models trained together\n", configs.size());
  const std::unique_ptr<ProgressBar> bar = stderr_progress_bar(quiet, progress);
  show_progress(trainer, bar.get());
  trainer.train([&](int m, const models::EpochRecord& r) {
    record_epoch(r, trainer.model(m), folders[m], histories[m], results[m]);
    if (bar) bar->clear();
    if (!quiet) {
      if (configs.size() > 1) std::printf("[%0*d] ", static_cast<int>(std::to_string(configs.size() - 1).size()), m);
      print_epoch(r);
    }
  });
  report_graph_fallback(trainer.graph_fallback());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (std::size_t m = 0; m < configs.size(); ++m) {
    RunResult& result = results[m];
    const int model = static_cast<int>(m);
    result.seconds = seconds;  // one pass for all
    try {
      if (!trainer.failure(model).empty()) {
        result.diverged = trainer.failure(model).find("diverged") != std::string::npos;
        if (result.partial) keep_partial_run(configs[m], histories[m], folders[m]);
        throw std::runtime_error(trainer.failure(model));
      }
      result.partial = false;
      write_run(trainer.model(model), histories[m], dataset.train_populations(trainer.frame_labels(model),
                                                                               trainer.states(model)),
                trajectories, folders[m]);
      result.states = trainer.states(model);
      result.ok = true;
    } catch (...) {
      result.error = std::current_exception();
    }
  }
  return results;
}

void run_train(const TrainOptions& o) {
  const ResolvedConfig resolved = resolve_config(o.flags);
  const std::vector<GridPoint> points = expand_grid(resolved.grid);
  // Every combination is checked before anything is created.
  const std::vector<models::LatfConfig> configs = grid_configurations(resolved.config, resolved.grid, points);
  if (o.stacked)
    for (std::size_t k = 1; k < configs.size(); ++k)
      if (const std::string key = models::stacking_conflict(configs[0], configs[k]); !key.empty())
        throw UsageError("--stacked: grid combination " + points[k].folder + " differs from " + points[0].folder +
                         " in '" + key + "'; a stack shares data, architecture and batch sizes");
  const std::vector<double> temperatures =
      o.temperatures.empty() ? std::vector<double>{} : parse_temperatures(o.temperatures, "--temperatures");
  const Device device = device_option(o.device);
  require_usable(device);
  StagedDirectory out(o.out, o.overwrite);  // before the data: an existing RUN_DIR fails at once
  const std::vector<models::Trajectory> trajectories = load_trajectories(o.data, temperatures);

  if (!resolved.grid.empty()) {
    std::vector<RunResult> stacked;
    if (o.stacked) {
      std::vector<std::filesystem::path> folders;
      for (const GridPoint& point : points) {
        folders.push_back(out.file(point.folder));
        std::filesystem::create_directories(folders.back());
      }
      stacked = train_stacked(configs, folders, trajectories, device, o.quiet, o.progress);
    }
    std::size_t next = 0;  // run_grid asks for the combinations in order
    const int failed = run_grid(
        resolved.grid, points, configs, out,
        [&](const models::LatfConfig& config, const std::filesystem::path& folder) {
          return o.stacked ? stacked.at(next++) : train_once(config, trajectories, device, folder, o.quiet, o.progress);
        },
        o.quiet);
    if (failed > 0)
      throw std::runtime_error(std::to_string(failed) + " of " + std::to_string(points.size()) +
                               " grid combinations failed (see " + (out.final_path() / "summary.tsv").string() + ")");
    return;
  }

  // The staging directory itself is the run's folder.
  const RunResult result =
      o.stacked ? train_stacked({resolved.config}, {out.file("")}, trajectories, device, o.quiet, o.progress).front()
                : train_once(resolved.config, trajectories, device, out.file(""), o.quiet, o.progress);
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
  train->add_flag("--stacked", o->stacked,
                  "Train all grid combinations together as one stack of models (same data, architecture and batch "
                  "sizes; seed, beta, tau and phase settings may vary); one configuration trains as a stack of one, "
                  "whose steps replay as CUDA Graphs on a GPU");
  train->add_flag("--quiet", o->quiet, "No per-epoch output and no progress bar");
  train->add_flag("--progress", o->progress, "Draw the progress bar on stderr even when it is not a terminal");
  train->callback([o] { run_train(*o); });
}

}  // namespace latf::cli
