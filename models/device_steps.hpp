#pragma once
// The device side of training epochs, shared by Trainer (one model) and StackedTrainer (M models):
// everything a training or validation step reads lives in device memory at a fixed address — the
// models' frame labels, the epoch's shuffles, the batch position, the noise streams, Adam's counts
// — so that a step is recorded once per shape as a CUDA Graph and replayed (engine/step_graph.hpp).
// A step gathers its batch, draws its noise, builds the loss on its own tape, adds the per-model
// loss terms to the epoch's device sums (without per-step checks), and, when training, runs the
// backward pass and the optimizers. The trainers keep the host bookkeeping: which models shuffle,
// their noise streams, the reading and checking of the losses.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autodiff/optimizer.hpp"
#include "autodiff/tape.hpp"
#include "engine/step_graph.hpp"
#include "kernels/gather.hpp"
#include "models/dataset.hpp"  // Split
#include "models/loss.hpp"

namespace latf::models {

// Thrown by a step whose loss met a NaN/Inf under the tape's check mode (per-step checks with
// check_finite). The step's update has not run.
class NonFiniteStep : public BackendError {
 public:
  using BackendError::BackendError;
};

class DeviceSteps {
 public:
  // Builds the loss of one step from its batch (single form for a single model, stacked otherwise).
  using LossBuilder = std::function<LossVars(autodiff::Tape&, const BatchVars&)>;

  // What the steps read of a data set: each split's pairs on the training device (Dataset::
  // pair_source; their own labels are not read), the frames' initial labels and the batch widths.
  struct Data {
    kernels::PairSource train, validation;
    std::vector<std::int64_t> labels;  // [F] every model's initial frame labels
    int descriptors = 0, latent_dim = 0;
  };
  static Data data_of(const Dataset& dataset, int latent_dim);

  // One noise seed per model. `single`: one model whose loss takes the single-form batch ([B, ...]
  // rather than [1, B, ...]); requires seeds.size() == 1.
  DeviceSteps(Data data, const Device& device, const std::vector<std::uint64_t>& seeds, bool single);
  ~DeviceSteps();

  int models() const { return models_; }

  // Model m's frame labels (after a label refinement).
  void set_labels(int m, const std::vector<std::int64_t>& labels);

  // Per-step checks on: the tape checks every value for NaN/Inf (check_finite) and the caller
  // reads each step's losses from `losses()`. Off: the losses only add to the epoch's device sums,
  // read once by `read_sums()`; on CUDA the steps then replay as graphs unless set_graphs(false).
  void set_step_checks(bool on, bool check_finite) {
    step_checks_ = on;
    check_finite_ = check_finite;
  }
  void set_graphs(bool on) { graphs_on_ = on; }
  // Why steps run op by op although graphs were asked for (empty when they replay or were not asked for).
  const std::string& graph_fallback() const { return graph_fallback_; }
  // Forgets the recorded steps and their buffers: needed whenever what a step reads is replaced —
  // new optimizers, new parameter tensors, another number of states.
  void forget_steps();

  // Before an epoch's first step. `shuffles[m]` ≥ 0: model m reads the split through
  // kernels::permutation(seed m, shuffles[m]); < 0: in order. Validation reads every model in order
  // (pass an empty list). `streams[m]`: the noise stream of model m's first step, advanced by one per
  // step. `states`: the width K of the targets.
  void begin_epoch(Split split, const std::vector<std::int64_t>& shuffles, const std::vector<std::int64_t>& streams,
                   int states);

  // One step of `rows` rows (the batch size, or fewer for the last), whose losses weigh `share` of
  // the epoch. Training: the optimizers' parameters are zeroed, then stepped after the backward
  // pass. A step whose loss meets a NaN/Inf under check_finite throws NonFiniteStep.
  void step(Phase phase, bool training, std::int64_t batch_size, std::int64_t rows, double share,
            const LossBuilder& build_loss, const std::vector<autodiff::ModelAdam*>& optimizers);
  // The last step's loss (its values: [1] single, [M] reconstruction and prior when stacked).
  const LossVars& losses() const;
  const autodiff::Tape& tape() const;
  // The epoch's summed reconstruction and prior terms, [2·M] (models' reconstruction, then their
  // prior terms); the epoch's one host synchronisation. Without step checks only.
  std::vector<float> read_sums() const;

 private:
  struct StepState;
  Data data_;
  Device device_;
  int models_ = 0;
  bool single_ = false;
  std::int64_t frames_ = 0;
  std::vector<std::uint64_t> seeds_host_;
  kernels::StackedPairSource source_;
  std::int64_t total_ = 0;  // pairs of the running epoch's split
  kernels::Indices labels_;     // [M·F] every model's frame labels (kernels/gather.hpp)
  kernels::Indices orders_;     // [M·P] the epoch's shuffles of the training pairs
  kernels::Indices position_;   // [1] the batch's first position, advanced by each step
  kernels::Indices seeds_, streams_;  // [M] noise seed and stream of each model, streams advanced per step
  Tensor sums_;                 // [2, M] the epoch's reconstruction and prior sums (no step checks)
  std::map<std::int64_t, std::unique_ptr<StepState>> steps_;  // per step shape: batch, noise, tape
  StepState* last_ = nullptr;
  std::unique_ptr<StepGraphs> graphs_;
  bool step_checks_ = true, check_finite_ = false, graphs_on_ = true;
  std::string graph_fallback_;
};

}  // namespace latf::models
