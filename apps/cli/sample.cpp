// `latf sample`: latent samples generated at any temperature, and the states they decode to.
#include <memory>

#include <CLI/CLI.hpp>

#include "apps/cli/commands.hpp"
#include "apps/cli/common.hpp"
#include "apps/cli/outputs.hpp"
#include "apps/cli/validators.hpp"
#include "models/checkpoint.hpp"

namespace latf::cli {

namespace {

struct SampleOptions {
  std::string model, out, device = "auto";
  double temperature = 0;
  std::int64_t n = 0;
  std::uint64_t seed = 0;
  bool overwrite = false;
};

void run_sample(const SampleOptions& o) {
  const Device device = device_option(o.device);
  require_usable(device);
  StagedDirectory out(o.out, o.overwrite);
  const models::Checkpoint checkpoint = models::load_checkpoint(o.model, device);
  write_samples(checkpoint.model, o.temperature, o.n, o.seed, out.file(""));
  out.commit();
}

}  // namespace

void add_sample_command(CLI::App& app) {
  CLI::App* sample = app.add_subcommand("sample", "Generate latent samples at a temperature");
  auto o = std::make_shared<SampleOptions>();
  sample->add_option("--model", o->model, "Checkpoint (RUN_DIR/model.latf)")->required()->check(CLI::ExistingFile);
  sample->add_option("--temperature", o->temperature, "Temperature (units of the training temperatures), > 0")
      ->required()->check(positive());
  sample->add_option("--n", o->n, "Number of samples")->required()->check(positive());
  sample->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  sample->add_option("--out", o->out, "Output directory (created; must not exist)")->required();
  sample->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  sample->add_flag("--overwrite", o->overwrite, "Replace an existing output directory");
  sample->callback([o] { run_sample(*o); });
}

}  // namespace latf::cli
