// `latf encode`: latent means, state probabilities and labels of frames under a trained model.
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "apps/cli/commands.hpp"
#include "apps/cli/common.hpp"
#include "apps/cli/inputs.hpp"
#include "apps/cli/outputs.hpp"
#include "models/checkpoint.hpp"
#include "models/inference.hpp"

namespace latf::cli {

namespace {

struct EncodeOptions {
  std::string model, data, out, device = "auto";
  bool overwrite = false;
};

void run_encode(const EncodeOptions& o) {
  const Device device = device_option(o.device);
  require_usable(device);
  StagedDirectory out(o.out, o.overwrite);
  const models::Checkpoint checkpoint = models::load_checkpoint(o.model, device);
  const Tensor frames = read_frames(o.data);
  const int inputs = checkpoint.model.spib->shape().inputs;
  if (frames.dim(1) != inputs)
    throw std::runtime_error(o.data + ": frames have " + std::to_string(frames.dim(1)) + " descriptors, the model " +
                             o.model + " expects " + std::to_string(inputs));
  const models::EncodedFrames encoded = models::encode_frames(checkpoint.model, frames);
  write_encoded(encoded, out.file(""));
  out.commit();
}

}  // namespace

void add_encode_command(CLI::App& app) {
  CLI::App* encode = app.add_subcommand("encode", "Encode frames with a trained model");
  auto o = std::make_shared<EncodeOptions>();
  encode->add_option("--model", o->model, "Checkpoint (RUN_DIR/model.latf)")->required()->check(CLI::ExistingFile);
  encode->add_option("--data", o->data, "Frames (.npy [N, D])")->required()->check(CLI::ExistingFile);
  encode->add_option("--out", o->out, "Output directory (created; must not exist)")->required();
  encode->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  encode->add_flag("--overwrite", o->overwrite, "Replace an existing output directory");
  encode->callback([o] { run_encode(*o); });
}

}  // namespace latf::cli
