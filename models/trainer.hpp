#pragma once
// Two-phase LaTF training (METHOD.md §3, §6): the SPIB phase (flow off, VampPrior, label
// refinements) and then the joint phase (flow on under the tilted prior, fresh optimizer).
// Unlike the reference, the optimizer is rebuilt whenever the decoder's output layer shrinks,
// so every live parameter keeps training.
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/optimizer.hpp"
#include "models/config.hpp"
#include "models/dataset.hpp"
#include "models/latf_model.hpp"
#include "models/loss.hpp"
#include "models/realnvp.hpp"
#include "models/spib.hpp"

namespace latf::models {

struct LossParts {
  double total = 0, reconstruction = 0, prior = 0;  // prior: the KL (SPIB) or flow NLL (joint) term, before β
  // Adds one step's losses with weight `share` (its rows / the epoch's). One compiled copy, so that
  // every trainer rounds an epoch's sums alike (the compiler may fuse a·b + c differently elsewhere).
  void add_step(double share, double step_total, double step_reconstruction, double step_prior);
};

struct EpochRecord {
  Phase phase = Phase::Spib;
  int epoch = 0;       // within the phase
  int round = 0;       // refinements done so far in this phase
  double learning_rate = 0;
  LossParts train, validation;
  int states = 0;
  std::vector<double> populations;   // weighted state populations of the training frames
  double population_change = 0;      // max |Δp| / p over states since the previous epoch
  double seconds = 0;                // wall time of the epoch
};

// Where a training epoch stands after one of its steps (a progress display's input). Counters and
// host time only: reporting a loss here would cost a GPU epoch a host synchronisation per step.
struct StepProgress {
  Phase phase = Phase::Spib;
  int round = 0, epoch = 0;
  std::int64_t step = 0;            // steps done in this epoch, 1 .. steps_in_epoch
  std::int64_t steps_in_epoch = 0;  // training steps (batches) of the epoch; validation not counted
  double seconds = 0;               // host time since the epoch's first step began
};

// The settings of one phase of `config`.
const PhaseConfig& phase_config(const LatfConfig& config, Phase phase);
// A copy of every value of `set` on its device (undefined for an empty set): the weights a
// divergence rolls back to. A device-to-device copy, no host synchronisation.
Tensor values_snapshot(const autodiff::ParameterSet& set);

// One model's place in a training phase (METHOD §3): its refinement round, the epochs since the
// last refinement, and the convergence test — |Δ epoch loss| < tolerance for `patience` epochs in a
// row, or max_epochs since the refinement. Kept per model by Trainer and StackedTrainer alike.
class PhaseSchedule {
 public:
  PhaseSchedule(const PhaseConfig& config, std::vector<double> populations)
      : config_(config), previous_population_(std::move(populations)) {}
  int round() const { return round_; }
  // lr_decay^(epochs since the refinement) of the phase's rate.
  double learning_rate() const;
  // Completes an epoch's record from its losses and populations (round, learning rate, population
  // change since the previous epoch) and reports whether the round has converged.
  bool finish_epoch(EpochRecord& record);
  // Whether the phase has refinements left for a converged round.
  bool may_refine() const { return round_ < config_.refinements; }
  // After a refinement: the next round starts with a fresh convergence test.
  void next_round();

 private:
  PhaseConfig config_;
  int round_ = 0, since_refinement_ = 0, calm_epochs_ = 0;
  double previous_loss_ = NAN;
  std::vector<double> previous_population_;
};

// The message of a divergence: phase, epoch, step (< 0: found at the epoch's end), whether it was
// the validation pass, and what was found.
std::string divergence_message(Phase phase, int epoch, std::int64_t step, bool training, const std::string& what);

class DeviceSteps;

class Trainer {
 public:
  using EpochCallback = std::function<void(const EpochRecord&)>;
  using StepCallback = std::function<void(const StepProgress&)>;

  Trainer(const LatfConfig& config, Dataset& dataset, const Device& device);
  ~Trainer();

  // Both phases. Throws BackendError naming the phase and epoch (and, on the CPU, the step) if
  // the loss turns NaN/Inf; the model's weights are first rolled back to those at the end of
  // the last completed epoch (the caller's last good checkpoint), then the divergence hook runs.
  void train(const EpochCallback& on_epoch = {});
  void train_phase(Phase phase, const EpochCallback& on_epoch = {});

  // Called just before a divergence error is thrown, so that the caller can make sure its last
  // good checkpoint (written at the end of an earlier epoch) is on disk and flagged as such.
  void set_divergence_hook(std::function<void()> hook) { on_divergence_ = std::move(hook); }

  // Called after every training step (not validation). On a GPU the step may still be queued:
  // the time is when the host finished queueing it. Unset: no clock is read.
  void set_step_callback(StepCallback on_step) { on_step_ = std::move(on_step); }

  // Per-step checks (the CPU default): the tape's NaN/Inf check mode and a read of every step's
  // losses, so a divergence names its step. Off (the GPU default): an epoch queues its steps
  // without a host synchronisation, sums the losses on the device and reads them once at its
  // end. Settable for tests, so that the GPU's bookkeeping also runs on the CPU.
  void set_step_checks(bool on) { step_checks_ = on; }
  bool step_checks() const { return step_checks_; }
  // Without step checks on a CUDA device (the default there), each step shape is recorded once as
  // a CUDA Graph and replayed (models/device_steps.hpp). Off: every step is queued op by op. A step
  // that cannot be recorded runs op by op from then on; graph_fallback() then says why.
  void set_graphs(bool on);
  const std::string& graph_fallback() const;

  // One label refinement (METHOD §3 steps 1–3): relabel every frame by argmax_k q(k | μ(x)), drop
  // empty states and shrink the decoder, reset each pseudo-input to the frame nearest its
  // state's weighted mean μ, and uniform mixture weights. Throws if fewer than two states remain.
  // train_phase calls it on convergence; public for tests and for callers that drive training.
  void refine_labels();

  const LatfModel& model() const { return model_; }
  LatfModel& model() { return model_; }
  const SpibModel& spib() const { return *model_.spib; }
  const RealNvp& flow() const { return *model_.flow; }
  const std::vector<EpochRecord>& history() const { return history_; }
  const LatfConfig& config() const { return config_; }

 private:
  LossParts run_epoch(Phase phase, Split split, bool training, int round, int epoch, double learning_rate);
  void reset_optimizers(Phase phase);
  void remember_good_state();
  void roll_back();

  LatfConfig config_;
  Dataset& dataset_;
  Device device_;
  LatfModel model_;
  // Stacks of one: their step counts and rates live on the device, so a recorded step replays.
  std::unique_ptr<autodiff::ModelAdam> spib_adam_, flow_adam_;
  std::unique_ptr<DeviceSteps> steps_;
  std::vector<EpochRecord> history_;
  std::function<void()> on_divergence_;
  StepCallback on_step_;
  Tensor good_spib_, good_flow_;  // flat parameter values at the start of the running epoch
  bool step_checks_ = true;
  std::uint64_t noise_stream_ = 1u << 20;  // every batch draws fresh reparameterisation noise
};

}  // namespace latf::models
