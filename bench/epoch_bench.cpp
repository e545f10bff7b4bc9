// latf_epoch_bench: wall time of whole training epochs of the engine, on the data set that
// bench/peer/latf_twin.py make-data wrote (the PyTorch twin times the same files; see
// bench/run_epoch_bench.sh and bench/gpu_check.sh). One epoch is one shuffled pass over all frames
// in batches, each step exactly as models::Trainer runs it (models::DeviceSteps: gather the batch,
// draw the noise, record latf_loss, backward, Adam on the SPIB set and in the joint phase the flow
// set), with the trainer's per-step checks on the CPU and its device-resident, graph-replayed
// epoch on CUDA. The label lag is not modelled (lag 0): a frame's label is its target.
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
#include "kernels/gather.hpp"
#include "models/dataset.hpp"
#include "models/device_steps.hpp"
#include "models/latf_model.hpp"
#include "models/loss.hpp"
#include "models/trainer.hpp"

namespace latf::bench {
namespace {

struct Options {
  std::string data_dir, json_path, commit, command;
  std::vector<std::string> phases = {"spib", "joint"};
  std::vector<bool> check_modes = {true, false};  // the trainer's CPU setting first
  std::vector<bool> graph_modes = {true, false};  // CUDA: the trainer's setting first
  int epochs = 3;
  int batch = 512;
  models::LatfConfig config;
  Device device = Device::cpu();  // --device cuda: the trainer's device-resident epoch
};

const char* kUsage =
    "usage: latf_epoch_bench --data DIR --json PATH [--phases spib,joint] [--epochs N] [--batch B]\n"
    "                        [--check on|off|both] [--layers L] [--hidden h] [--width n] [--latent-dim d]\n"
    "                        [--encoder linear|nonlinear] [--beta b] [--tau t] [--commit SHA] [--device cpu|cuda]\n"
    "                        [--graphs on|off|both]\n"
    "  DIR holds inputs.npy [F,D], labels.npy [F], weights.npy [F], inverse_temperature.npy [F]\n"
    "  --check   the tape's NaN/Inf check mode (on is what models::Trainer uses on the CPU)\n"
    "  --graphs  CUDA: steps replayed as CUDA Graphs (what models::Trainer does) or queued op by op\n";

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
    } else if (arg == "--graphs") {
      const std::string mode = value();
      LATF_REQUIRE(mode == "on" || mode == "off" || mode == "both", "option --graphs: expected on|off|both, got ", mode);
      o.graph_modes = mode == "both" ? std::vector<bool>{true, false} : std::vector<bool>{mode == "on"};
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

struct PhaseResult {
  std::string phase;
  bool check_finite = true;
  bool graphs = false;
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

// The engine's epochs exactly as models::Trainer runs them: the same device-side steps
// (models::DeviceSteps, one model) with the same optimizers, here on the bench's frames.
//  - On the CPU, the trainer's per-step checks: each step's losses are read back, and the tape's
//    NaN/Inf check mode is on or off (--check).
//  - On CUDA, the trainer's device-resident epoch: no per-step read, the losses summed on the
//    device and read once; each step shape recorded once as a CUDA Graph and replayed, or queued
//    op by op (--graphs).
class EngineEpochs {
 public:
  struct Mode {
    bool step_checks = true, check_finite = true, graphs = false;
    std::string label() const {
      if (step_checks) return check_finite ? "(check on)" : "(check off)";
      return graphs ? "(graphs)" : "(op by op)";
    }
  };

  EngineEpochs(const Options& o, const Frames& frames, const Mode& mode)
      : o_(o), mode_(mode), device_(o.device), total_(frames.count()), states_(frames.states),
        model_(models::LatfModel::create(o.config, frames.descriptors(), frames.states, {}, 1.0, device_)),
        steps_(step_data(frames), device_, {o.config.seed}, true) {
    steps_.set_step_checks(mode.step_checks, mode.check_finite);
    steps_.set_graphs(mode.graphs);
  }

  PhaseResult run(models::Phase phase) {
    PhaseResult result{models::phase_name(phase), mode_.check_finite && mode_.step_checks, mode_.graphs, {}, {}, {}, 0};
    steps_.forget_steps();  // recorded for the previous phase's optimizers
    spib_adam_ = std::make_unique<autodiff::ModelAdam>(model_.spib->parameters(), 1);
    flow_adam_.reset();
    if (phase == models::Phase::Joint) flow_adam_ = std::make_unique<autodiff::ModelAdam>(model_.flow->parameters(), 1);
    for (int e = 0; e < o_.epochs; ++e) {
      synchronize(device_);
      const auto start = std::chrono::steady_clock::now();
      const double cpu_start = cpu_seconds();
      result.last = epoch(phase, result.steps);  // ends with a read of the losses, so a GPU is done
      result.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      result.cpu_seconds.push_back(cpu_seconds() - cpu_start);
      std::printf("engine %s epoch %s: %.3f s, cpu %.3f s (loss %.4f)\n", result.phase.c_str(), mode_.label().c_str(),
                  result.seconds.back(), result.cpu_seconds.back(), result.last.total);
      std::fflush(stdout);
    }
    LATF_REQUIRE(steps_.graph_fallback().empty(), "the steps could not be recorded as CUDA Graphs: ",
                 steps_.graph_fallback());
    return result;
  }

 private:
  // Every frame is one pair (present = 0 … F − 1, lag 0); no validation split.
  models::DeviceSteps::Data step_data(const Frames& f) const {
    std::vector<std::int64_t> identity(static_cast<std::size_t>(f.count()));
    std::iota(identity.begin(), identity.end(), std::int64_t{0});
    const Shape per_frame{f.count()};
    kernels::PairSource train{f.inputs.to(device_), kernels::Indices::from_vector(f.labels, device_),
                              Tensor::from_vector(f.weights, per_frame, device_),
                              Tensor::from_vector(f.inverse_temperature, per_frame, device_),
                              kernels::Indices::from_vector(identity, device_), 0, f.states};
    kernels::PairSource validation = train;
    validation.present = kernels::Indices::empty(0, device_);
    return models::DeviceSteps::Data{train, validation, f.labels, f.descriptors(), o_.config.spib.latent_dim};
  }

  models::LossParts epoch(models::Phase phase, std::int64_t& steps) {
    const double lr = models::phase_config(o_.config, phase).learning_rate;
    std::vector<autodiff::ModelAdam*> optimizers;
    for (autodiff::ModelAdam* adam : {spib_adam_.get(), flow_adam_.get()})
      if (adam) {
        adam->set_learning_rates({static_cast<float>(lr)});
        optimizers.push_back(adam);
      }
    steps_.begin_epoch(models::Split::Train, {10'000 + epochs_done_++}, {noise_stream_}, states_);
    const models::DeviceSteps::LossBuilder build_loss = [&](autodiff::Tape& tape, const models::BatchVars& vars) {
      return models::latf_loss(tape, *model_.spib, *model_.flow, phase, vars, o_.config.spib.beta, o_.config.flow.tau);
    };
    models::LossParts sum;
    steps = 0;
    for (std::int64_t start = 0; start < total_; start += o_.batch, ++steps) {
      const std::int64_t count = std::min<std::int64_t>(o_.batch, total_ - start);
      const double share = static_cast<double>(count) / total_;
      steps_.step(phase, true, o_.batch, count, share, build_loss, optimizers);
      if (mode_.step_checks) {  // the trainer reads all three parts back every step
        const autodiff::Tape& tape = steps_.tape();
        const models::LossVars& loss = steps_.losses();
        const double value = tape.value(loss.total).item();
        LATF_REQUIRE(std::isfinite(value), "loss diverged at step ", steps);
        sum.add_step(share, value, tape.value(loss.reconstruction).item(), tape.value(loss.prior).item());
      }
    }
    noise_stream_ += steps;
    if (!mode_.step_checks) {
      const std::vector<float> read = steps_.read_sums();
      sum = models::LossParts{read[0] + o_.config.spib.beta * read[1], read[0], read[1]};
      LATF_REQUIRE(std::isfinite(sum.total), "loss diverged in this epoch");
    }
    return sum;
  }

  const Options& o_;
  Mode mode_;
  Device device_;
  std::int64_t total_;
  int states_;
  models::LatfModel model_;
  models::DeviceSteps steps_;
  std::unique_ptr<autodiff::ModelAdam> spib_adam_, flow_adam_;
  std::int64_t noise_stream_ = std::int64_t{1} << 20;
  std::int64_t epochs_done_ = 0;
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
        << ", \"graphs\": " << (r.graphs ? "true" : "false") << ", \"epoch_seconds\": [";
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
  std::vector<EngineEpochs::Mode> modes;
  if (o.device.is_cuda()) {  // no per-step checks on a GPU, as in the trainer
    require_usable(o.device);
    for (const bool graphs : o.graph_modes) modes.push_back({false, false, graphs});
  } else {
    for (const bool check : o.check_modes) modes.push_back({true, check, false});
  }
  std::vector<PhaseResult> results;
  for (const EngineEpochs::Mode& mode : modes) {
    // A fresh model per mode, so that every mode times the same trajectory of weights.
    EngineEpochs runner(o, frames, mode);
    for (const std::string& p : o.phases)
      results.push_back(runner.run(p == "spib" ? models::Phase::Spib : models::Phase::Joint));
  }
  write_json(o, frames, results);
  return 0;
}

}  // namespace
}  // namespace latf::bench

int main(int argc, char** argv) { return latf::bench::guarded_main("latf_epoch_bench", latf::bench::run, argc, argv); }
