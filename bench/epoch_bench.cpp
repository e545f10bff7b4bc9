// latf_epoch_bench: wall time of whole training epochs of the engine on the CPU, on the data set
// that bench/peer/latf_twin.py make-data wrote (the PyTorch twin times the same files; see
// bench/run_epoch_bench.sh). One epoch is one shuffled pass over all frames in batches, each step
// exactly as models::Trainer::run_epoch does it on the CPU: the epoch's kernels::permutation, then
// per step gather the batch (kernels::gather_pairs), clear the tape, zero the gradients, draw the
// noise, record latf_loss, read the losses back, backward, Adam on the SPIB set (and the flow set
// in the joint phase). The label lag is not modelled (lag 0): a frame's label is its target.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_support.hpp"
#include "data/npy.hpp"
#include "engine/error.hpp"
#include "engine/random_fill.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/gather.hpp"
#include "kernels/permutation.hpp"
#include "models/dataset.hpp"
#include "models/latf_model.hpp"
#include "models/loss.hpp"
#include "models/trainer.hpp"

namespace latf::bench {
namespace {

struct Options {
  std::string data_dir, json_path, commit, command;
  std::vector<std::string> phases = {"spib", "joint"};
  std::vector<bool> check_modes = {true, false};  // the trainer's CPU setting first
  int epochs = 3;
  int batch = 512;
  models::LatfConfig config;
  Device device = Device::cpu();  // --device cuda: the device-resident epoch (DeviceEpochRunner)
};

const char* kUsage =
    "usage: latf_epoch_bench --data DIR --json PATH [--phases spib,joint] [--epochs N] [--batch B]\n"
    "                        [--check on|off|both] [--layers L] [--hidden h] [--width n] [--latent-dim d]\n"
    "                        [--encoder linear|nonlinear] [--beta b] [--tau t] [--commit SHA] [--device cpu|cuda]\n"
    "  DIR holds inputs.npy [F,D], labels.npy [F], weights.npy [F], inverse_temperature.npy [F]\n"
    "  --check   the tape's NaN/Inf check mode (on is what models::Trainer uses on the CPU)\n";

Options parse(int argc, char** argv) {
  Options o;
  o.config.spib.encoder = models::EncoderKind::Linear;
  if (const char* commit = std::getenv("LATF_COMMIT")) o.commit = commit;
  o.command = command_line(argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      LATF_REQUIRE(i + 1 < argc, "option ", arg, ": expected a value");
      return argv[++i];
    };
    if (arg == "--data") o.data_dir = value();
    else if (arg == "--json") o.json_path = value();
    else if (arg == "--commit") o.commit = value();
    else if (arg == "--device") o.device = parse_device(value());
    else if (arg == "--phases") o.phases = split_list(value());
    else if (arg == "--epochs") o.epochs = std::stoi(value());
    else if (arg == "--batch") o.batch = std::stoi(value());
    else if (arg == "--layers") o.config.flow.layers = std::stoi(value());
    else if (arg == "--hidden") o.config.flow.hidden = std::stoi(value());
    else if (arg == "--width") o.config.spib.decoder_width = o.config.spib.encoder_width = std::stoi(value());
    else if (arg == "--latent-dim") o.config.spib.latent_dim = std::stoi(value());
    else if (arg == "--beta") o.config.spib.beta = std::stod(value());
    else if (arg == "--tau") o.config.flow.tau = std::stod(value());
    else if (arg == "--encoder") {
      const std::string kind = value();
      LATF_REQUIRE(kind == "linear" || kind == "nonlinear", "option --encoder: expected linear|nonlinear, got ", kind);
      o.config.spib.encoder = kind == "linear" ? models::EncoderKind::Linear : models::EncoderKind::Nonlinear;
    } else if (arg == "--check") {
      const std::string mode = value();
      LATF_REQUIRE(mode == "on" || mode == "off" || mode == "both", "option --check: expected on|off|both, got ", mode);
      o.check_modes = mode == "both" ? std::vector<bool>{true, false} : std::vector<bool>{mode == "on"};
    } else if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      throw InvalidArgument(concat("unknown option ", arg, "\n", kUsage));
    }
  }
  LATF_REQUIRE(!o.data_dir.empty() && !o.json_path.empty(), "--data and --json are required\n", kUsage);
  LATF_REQUIRE(o.epochs >= 1 && o.batch >= 1, "--epochs and --batch: expected ≥ 1");
  for (const std::string& p : o.phases)
    LATF_REQUIRE(p == "spib" || p == "joint", "option --phases: expected spib and/or joint, got ", p);
  return o;
}

// The frames as the trainer's Dataset holds them, without the lag (label = target).
struct Frames {
  Tensor inputs;  // [F, D]
  std::vector<std::int64_t> labels;
  std::vector<float> weights, inverse_temperature;
  int states = 0;
  std::int64_t count() const { return inputs.dim(0); }
  int descriptors() const { return static_cast<int>(inputs.dim(1)); }
};

Frames load_frames(const std::string& dir) {
  Frames f;
  const auto path = [&](const char* name) { return dir + "/" + name + ".npy"; };
  f.inputs = data::npy_to_tensor(data::read_npy(path("inputs")));
  LATF_REQUIRE(f.inputs.rank() == 2, "inputs.npy: expected [F, D], got ", f.inputs.shape().str());
  f.labels = data::npy_to_integers(data::read_npy(path("labels")), path("labels"));
  f.weights = data::npy_to_tensor(data::read_npy(path("weights"))).to_vector();
  f.inverse_temperature = data::npy_to_tensor(data::read_npy(path("inverse_temperature"))).to_vector();
  const auto n = static_cast<std::size_t>(f.count());
  LATF_REQUIRE(f.labels.size() == n && f.weights.size() == n && f.inverse_temperature.size() == n,
               "labels/weights/inverse_temperature: expected ", n, " frames each");
  f.states = static_cast<int>(*std::max_element(f.labels.begin(), f.labels.end())) + 1;
  return f;
}

// The frames as the trainer's Dataset places them for kernels::gather_pairs on `device`: every
// frame is one pair (present = 0 … F − 1, lag 0).
kernels::PairSource pair_source(const Frames& f, const Device& device) {
  std::vector<std::int64_t> identity(static_cast<std::size_t>(f.count()));
  std::iota(identity.begin(), identity.end(), std::int64_t{0});
  const Shape per_frame{f.count()};
  return kernels::PairSource{f.inputs.to(device), kernels::Indices::from_vector(f.labels, device),
                             Tensor::from_vector(f.weights, per_frame, device),
                             Tensor::from_vector(f.inverse_temperature, per_frame, device),
                             kernels::Indices::from_vector(identity, device), 0, f.states};
}

struct PhaseResult {
  std::string phase;
  bool check_finite = true;
  std::vector<double> seconds, cpu_seconds;  // wall and process CPU time per epoch
  models::LossParts last;  // mean losses of the last epoch
  std::int64_t steps = 0;
};

// On a shared machine the process's CPU time is the steadier measure (a busy neighbour stretches
// wall time, not CPU time); both are reported.
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// What both runners share: the model and its optimisers on one device, the timed epochs, and
// each step's batch, noise, loss and update exactly as models::Trainer::run_epoch does them.
class RunnerBase {
 protected:
  RunnerBase(const Options& o, const Frames& frames, const Device& device)
      : o_(o), device_(device), total_(frames.count()), source_(pair_source(frames, device)),
        model_(models::LatfModel::create(o.config, frames.descriptors(), frames.states, {}, 1.0, device)) {}

  // o.epochs calls of `epoch(steps)`, each timed; `label` follows "engine <phase> epoch" in the log.
  template <class Epoch>
  PhaseResult timed_epochs(models::Phase phase, bool check_finite, const std::string& label, Epoch epoch) {
    PhaseResult result{models::phase_name(phase), check_finite, {}, {}, {}, 0};
    spib_adam_ = std::make_unique<autodiff::Adam>(model_.spib->parameters());
    flow_adam_.reset();
    if (phase == models::Phase::Joint) flow_adam_ = std::make_unique<autodiff::Adam>(model_.flow->parameters());
    for (int e = 0; e < o_.epochs; ++e) {
      synchronize(device_);
      const auto start = std::chrono::steady_clock::now();
      const double cpu_start = cpu_seconds();
      result.last = epoch(result.steps);  // ends with a read of the losses, so a GPU is done
      result.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      result.cpu_seconds.push_back(cpu_seconds() - cpu_start);
      std::printf("engine %s epoch %s: %.3f s, cpu %.3f s (loss %.4f)\n", result.phase.c_str(), label.c_str(),
                  result.seconds.back(), result.cpu_seconds.back(), result.last.total);
      std::fflush(stdout);
    }
    return result;
  }

  double learning_rate(models::Phase phase) const {
    return models::phase_config(o_.config, phase).learning_rate;
  }

  kernels::Indices epoch_order() {
    kernels::Indices order = kernels::Indices::empty(total_, device_);
    kernels::permutation(order, o_.config.seed, 10'000 + epochs_done_++);
    return order;
  }

  // Frames [start, start + count) of `order` gathered into `batch`, the tape and the gradients
  // cleared, fresh noise drawn: the step's loss recorded on `tape`.
  models::LossVars record_step(autodiff::Tape& tape, models::Phase phase, const kernels::Indices& order,
                               std::int64_t start, std::int64_t count, kernels::PairBatch& batch) {
    kernels::resize_pair_batch(source_, count, batch);
    kernels::gather_pairs(source_, order, start, batch);
    tape.clear();
    model_.spib->parameters().zero_grad();
    if (flow_adam_) model_.flow->parameters().zero_grad();
    Tensor noise = Tensor::empty({count, o_.config.spib.latent_dim}, device_);
    fill_normal(noise, o_.config.seed, noise_stream_++);
    const models::BatchVars vars{tape.constant(batch.inputs), tape.constant(batch.targets),
                                 tape.constant(batch.weights), tape.constant(batch.inverse_temperature),
                                 tape.constant(noise)};
    return models::latf_loss(tape, *model_.spib, *model_.flow, phase, vars, o_.config.spib.beta, o_.config.flow.tau);
  }

  void update(autodiff::Tape& tape, const models::LossVars& loss, double lr) {
    tape.backward(loss.total);
    spib_adam_->step(static_cast<float>(lr));
    if (flow_adam_) flow_adam_->step(static_cast<float>(lr));
  }

  const Options& o_;
  Device device_;
  std::int64_t total_;
  kernels::PairSource source_;
  models::LatfModel model_;
  std::unique_ptr<autodiff::Adam> spib_adam_, flow_adam_;
  std::uint64_t noise_stream_ = 1u << 20;
  std::uint64_t epochs_done_ = 0;
};

// ---- the CPU epoch, the tape's NaN/Inf check on or off ----
class EpochRunner : RunnerBase {
 public:
  EpochRunner(const Options& o, const Frames& frames) : RunnerBase(o, frames, Device::cpu()) {}

  PhaseResult run(models::Phase phase, bool check_finite) {
    return timed_epochs(phase, check_finite, check_finite ? "(check on)" : "(check off)",
                        [&](std::int64_t& steps) { return epoch(phase, check_finite, steps); });
  }

 private:
  models::LossParts epoch(models::Phase phase, bool check_finite, std::int64_t& steps) {
    const double lr = learning_rate(phase);
    const kernels::Indices order = epoch_order();
    autodiff::Tape tape;
    tape.set_check_finite(check_finite);
    kernels::PairBatch batch;
    models::LossParts sum;
    steps = 0;
    for (std::int64_t start = 0; start < total_; start += o_.batch, ++steps) {
      const std::int64_t count = std::min<std::int64_t>(o_.batch, total_ - start);
      const models::LossVars loss = record_step(tape, phase, order, start, count, batch);
      const double value = tape.value(loss.total).item();
      LATF_REQUIRE(std::isfinite(value), "loss diverged at step ", steps);
      update(tape, loss, lr);
      // The trainer reads all three parts back every step.
      const double share = static_cast<double>(count) / total_;
      sum.total += share * value;
      sum.reconstruction += share * tape.value(loss.reconstruction).item();
      sum.prior += share * tape.value(loss.prior).item();
    }
    return sum;
  }
};

// ---- --device cuda: the trainer's device-resident epoch (models::Trainer::run_epoch on a GPU) ----
// The frames live on the device; each epoch permutes there (kernels::permutation), each batch is
// gathered there (kernels::gather_pairs), the losses are summed there and read once per epoch.
class DeviceEpochRunner : RunnerBase {
 public:
  DeviceEpochRunner(const Options& o, const Frames& frames) : RunnerBase(o, frames, o.device) {}

  PhaseResult run(models::Phase phase) {
    return timed_epochs(phase, false, "on " + device_.str(), [&](std::int64_t& steps) { return epoch(phase, steps); });
  }

 private:
  models::LossParts epoch(models::Phase phase, std::int64_t& steps) {
    const double lr = learning_rate(phase);
    const kernels::Indices order = epoch_order();
    Tensor sums = Tensor::zeros({3}, device_);
    autodiff::Tape tape;
    tape.set_check_finite(false);
    kernels::PairBatch batch;
    steps = 0;
    for (std::int64_t start = 0; start < total_; start += o_.batch, ++steps) {
      const std::int64_t count = std::min<std::int64_t>(o_.batch, total_ - start);
      const models::LossVars loss = record_step(tape, phase, order, start, count, batch);
      const double share = static_cast<double>(count) / total_;
      const autodiff::Var parts[3] = {loss.total, loss.reconstruction, loss.prior};
      for (int i = 0; i < 3; ++i) {
        Tensor slot = sums.view(i, {1});
        kernels::accumulate_scaled(share, tape.value(parts[i]).reshape({1}), slot);
      }
      update(tape, loss, lr);
    }
    const std::vector<float> read = sums.to_vector();
    LATF_REQUIRE(std::isfinite(read[0]), "loss diverged in this epoch");
    return models::LossParts{read[0], read[1], read[2]};
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void write_json(const Options& o, const Frames& frames, const std::vector<PhaseResult>& results) {
  std::ostringstream out;
  const models::LatfConfig& c = o.config;
  out << "{\n  \"implementation\": \"latf-engine\",\n  \"device\": \"" << o.device.str()
      << "\",\n  \"machine\": " << machine_json()
      << ",\n  \"command\": " << json_string(o.command) << ",\n  \"commit\": " << json_string(o.commit)
      << ",\n  \"config\": {\"frames\": " << frames.count() << ", \"descriptors\": " << frames.descriptors()
      << ", \"states\": " << frames.states << ", \"encoder\": \""
      << (c.spib.encoder == models::EncoderKind::Linear ? "linear" : "nonlinear") << "\", \"latent_dim\": "
      << c.spib.latent_dim << ", \"decoder_width\": " << c.spib.decoder_width << ", \"layers\": " << c.flow.layers
      << ", \"hidden\": " << c.flow.hidden << ", \"batch\": " << o.batch << ", \"beta\": " << c.spib.beta
      << ", \"tau\": " << c.flow.tau << "},\n  \"results\": [";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const PhaseResult& r = results[i];
    out << (i ? "," : "") << "\n    {\"phase\": \"" << r.phase << "\", \"check_finite\": " << (r.check_finite ? "true" : "false")
        << ", \"epoch_seconds\": [";
    for (std::size_t e = 0; e < r.seconds.size(); ++e) out << (e ? ", " : "") << r.seconds[e];
    out << "], \"median_seconds\": " << median(r.seconds) << ", \"epoch_cpu_seconds\": [";
    for (std::size_t e = 0; e < r.cpu_seconds.size(); ++e) out << (e ? ", " : "") << r.cpu_seconds[e];
    out << "], \"median_cpu_seconds\": " << median(r.cpu_seconds) << ", \"steps_per_epoch\": " << r.steps
        << ", \"final_loss\": " << r.last.total << "}";
  }
  out << "\n  ]\n}\n";
  write_json_file(o.json_path, out.str());
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const Frames frames = load_frames(o.data_dir);
  std::vector<PhaseResult> results;
  if (o.device.is_cuda()) {  // the tape's check mode is off on a GPU, as in the trainer
    require_usable(o.device);
    DeviceEpochRunner runner(o, frames);
    for (const std::string& p : o.phases)
      results.push_back(runner.run(p == "spib" ? models::Phase::Spib : models::Phase::Joint));
    write_json(o, frames, results);
    return 0;
  }
  for (const bool check : o.check_modes) {
    // A fresh model per check mode, so both time the same trajectory of weights.
    EpochRunner runner(o, frames);
    for (const std::string& p : o.phases)
      results.push_back(runner.run(p == "spib" ? models::Phase::Spib : models::Phase::Joint, check));
  }
  write_json(o, frames, results);
  return 0;
}

}  // namespace
}  // namespace latf::bench

int main(int argc, char** argv) { return latf::bench::guarded_main("latf_epoch_bench", latf::bench::run, argc, argv); }
