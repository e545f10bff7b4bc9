#pragma once
// Trains M LaTF models of one architecture on one data set in a single pass (batched models,
// docs/batched_models.md): every weight tensor carries a leading model dimension and each step
// runs the M models' forward, backward and Adam update as one stacked computation. Each model keeps
// its own seed (initial weights, shuffle order, noise), β, τ, learning-rate schedule and stopping
// rules, and follows exactly the course a Trainer would give it alone: its epochs, convergence,
// label refinements (its own labels and number of states). On the CPU model m ends with a
// Trainer's weights bit for bit while no refinement has dropped one of its states, and up to
// float rounding after (tests/test_stacked_training.cpp).
//
// A model that has finished a phase waits, frozen (learning rate 0), for the others. A model
// whose loss turns NaN/Inf is rolled back to its weights at the end of its last good epoch and
// frozen for good; the others train on (failure(m) says what happened).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/optimizer.hpp"
#include "models/device_steps.hpp"
#include "models/trainer.hpp"

namespace latf::models {

// Empty when `other` can train in one stack with `first`; otherwise names the first setting in
// which they differ. Models may differ in seed, spib.beta, flow.tau and every phase setting but
// batch_size; data, architecture and batch sizes must agree.
std::string stacking_conflict(const LatfConfig& first, const LatfConfig& other);

class StackedTrainer {
 public:
  using EpochCallback = std::function<void(int model, const EpochRecord&)>;

  // Throws InvalidArgument if configs is empty, a config is invalid, or two cannot be stacked.
  StackedTrainer(std::vector<LatfConfig> configs, Dataset& dataset, const Device& device);
  ~StackedTrainer();

  void train(const EpochCallback& on_epoch = {});
  void train_phase(Phase phase, const EpochCallback& on_epoch = {});

  // As Trainer's: on (the CPU default) each step's per-model losses are read at once, so a
  // divergence names its step; off (the GPU default) they are summed on the device and read once
  // per epoch. The tape's own NaN check stays off: it would stop every model for one.
  void set_step_checks(bool on) { step_checks_ = on; }
  // Without step checks on a CUDA device (the default there), each step shape is recorded once as
  // a CUDA Graph and replayed (engine/step_graph.hpp): every step-to-step change — batch position,
  // noise streams, Adam's step counts — lives in device memory. Off: every step is queued op by op.
  // A step that cannot be recorded (a bug: something in it synchronises with the host) is run op
  // by op instead, from then on; graph_fallback() then says why (empty otherwise).
  void set_graphs(bool on);
  const std::string& graph_fallback() const;
  void set_step_callback(Trainer::StepCallback on_step) { on_step_ = std::move(on_step); }

  int models() const;
  const LatfConfig& config(int m) const;
  // Model m as a single model over its live states (a copy, on the training device); a model
  // that diverged is returned as it was at the end of its last good epoch.
  LatfModel model(int m) const;
  const std::vector<EpochRecord>& history(int m) const;
  const std::string& failure(int m) const;  // empty unless model m diverged
  int states(int m) const;
  const std::vector<std::int64_t>& frame_labels(int m) const;
  // The stacked networks (all M models, every parameter [M, ...]).
  const SpibModel& spib() const { return *spib_; }
  const RealNvp& flow() const { return *flow_; }

 private:
  struct Slot;
  struct EpochLosses;
  EpochLosses run_epoch(Phase phase, Split split, bool training, int epoch);
  void set_learning_rates();
  void refine(int m);
  void fail(int m, Phase phase, int epoch, std::int64_t step, const std::string& what, bool training);
  void stop(int m, const std::string& failure);  // model m ends here, kept as it is now
  const Slot& slot(int m) const;

  Dataset& dataset_;
  Device device_;
  Normalization normalization_;
  double reference_temperature_ = 1;
  std::vector<Slot> slots_;
  std::unique_ptr<SpibModel> spib_;
  std::unique_ptr<RealNvp> flow_;
  std::unique_ptr<autodiff::ModelAdam> spib_adam_, flow_adam_;
  Tensor betas_, taus_;           // [M] on the device
  Tensor good_spib_, good_flow_;  // flat values at the start of the running epoch
  std::unique_ptr<DeviceSteps> steps_;  // every model's labels, shuffles, noise streams, step buffers
  bool step_checks_ = true;
  Trainer::StepCallback on_step_;
};

}  // namespace latf::models
