#pragma once
// Two-phase LaTF training (METHOD.md §3, §6): the SPIB phase (flow off, VampPrior, label
// refinements) and then the joint phase (flow on under the tilted prior, fresh optimizer).
// Unlike the reference, the optimizer is rebuilt whenever the decoder's output layer shrinks,
// so every live parameter keeps training.
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

class Trainer {
 public:
  using EpochCallback = std::function<void(const EpochRecord&)>;

  Trainer(const LatfConfig& config, Dataset& dataset, const Device& device);

  // Both phases. Throws BackendError naming the phase, epoch and step if the loss turns NaN/Inf.
  void train(const EpochCallback& on_epoch = {});
  void train_phase(Phase phase, const EpochCallback& on_epoch = {});

  // Called just before a divergence error is thrown, so that the caller can make sure its last
  // good checkpoint (written at the end of an earlier epoch) is on disk and flagged as such.
  void set_divergence_hook(std::function<void()> hook) { on_divergence_ = std::move(hook); }

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
  LossParts run_epoch(Phase phase, const std::vector<std::int64_t>& pairs, bool training, int epoch,
                      double learning_rate);
  void reset_optimizers(Phase phase);

  LatfConfig config_;
  Dataset& dataset_;
  Device device_;
  LatfModel model_;
  std::unique_ptr<autodiff::Adam> spib_adam_, flow_adam_;
  std::vector<EpochRecord> history_;
  std::function<void()> on_divergence_;
  std::uint64_t noise_stream_ = 1u << 20;  // every batch draws fresh reparameterisation noise
};

}  // namespace latf::models
