#include "models/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "autodiff/ops.hpp"
#include "engine/error.hpp"
#include "models/device_steps.hpp"
#include "models/refinement.hpp"

namespace latf::models {

using autodiff::Tape;
using autodiff::Var;

void LossParts::add_step(double share, double step_total, double step_reconstruction, double step_prior) {
  total += share * step_total;
  reconstruction += share * step_reconstruction;
  prior += share * step_prior;
}

double PhaseSchedule::learning_rate() const {
  return config_.learning_rate * std::pow(config_.lr_decay, since_refinement_);
}

bool PhaseSchedule::finish_epoch(EpochRecord& record) {
  record.round = round_;
  record.learning_rate = learning_rate();
  if (record.populations.size() == previous_population_.size())
    for (std::size_t k = 0; k < record.populations.size(); ++k)
      if (previous_population_[k] > 0)
        record.population_change =
            std::max(record.population_change,
                     std::abs(record.populations[k] - previous_population_[k]) / previous_population_[k]);
  previous_population_ = record.populations;
  calm_epochs_ = std::abs(record.train.total - previous_loss_) < config_.tolerance ? calm_epochs_ + 1 : 0;
  previous_loss_ = record.train.total;
  ++since_refinement_;
  return calm_epochs_ >= config_.patience || since_refinement_ >= config_.max_epochs;
}

void PhaseSchedule::next_round() {
  ++round_;
  since_refinement_ = 0;
  calm_epochs_ = 0;
  previous_loss_ = NAN;
}

std::string divergence_message(Phase phase, int epoch, std::int64_t step, bool training, const std::string& what) {
  const std::string where =
      step >= 0 ? concat(", step ", step)
                : std::string(" (found at the epoch's end, where an epoch without per-step checks reads its "
                              "losses; the step is not known)");
  return concat("training diverged in the ", phase_name(phase), " phase, epoch ", epoch, where,
                training ? "" : " (validation)", ": ", what);
}

Trainer::Trainer(const LatfConfig& config, Dataset& dataset, const Device& device)
    : config_(config), dataset_(dataset), device_(device) {
  dataset_.place_on(device_);  // once: every epoch then shuffles and gathers on the device
  step_checks_ = device_.is_cpu();
  model_ = LatfModel::create(config, dataset.descriptors(), dataset.states(), dataset.normalization(),
                             dataset.reference_temperature(), device);
  steps_ = std::make_unique<DeviceSteps>(DeviceSteps::data_of(dataset_, config.spib.latent_dim), device_,
                                         std::vector<std::uint64_t>{config.seed}, true);
}

Trainer::~Trainer() = default;

void Trainer::set_graphs(bool on) { steps_->set_graphs(on); }
const std::string& Trainer::graph_fallback() const { return steps_->graph_fallback(); }

void Trainer::reset_optimizers(Phase phase) {
  steps_->forget_steps();  // the recorded steps update the old optimizers (and, after a refinement, the old model)
  spib_adam_ = std::make_unique<autodiff::ModelAdam>(model_.spib->parameters(), 1);
  flow_adam_.reset();
  if (phase == Phase::Joint && model_.flow->parameters().size() > 0)
    flow_adam_ = std::make_unique<autodiff::ModelAdam>(model_.flow->parameters(), 1);
}

LossParts Trainer::run_epoch(Phase phase, Split split, bool training, int round, int epoch, double learning_rate) {
  const PhaseConfig& pc = phase_config(config_, phase);
  const std::int64_t total = dataset_.pairs(split);
  // With per-step checks (the CPU: reads are free) each step's losses are read at once, so a NaN
  // names its step. Without (a GPU: the steps only queue work) the losses are summed on the
  // device and read once at the end of the epoch.
  steps_->set_step_checks(step_checks_, true);
  std::vector<autodiff::ModelAdam*> optimizers;
  if (training) {
    for (autodiff::ModelAdam* adam : {spib_adam_.get(), flow_adam_.get()})
      if (adam) {
        adam->set_learning_rates({static_cast<float>(learning_rate)});
        optimizers.push_back(adam);
      }
  }
  // Training shuffles with the seed and the epoch count; validation keeps the split's order. A
  // training step draws the next noise stream, validation step s stream 2^40 + s.
  const std::vector<std::int64_t> shuffles =
      training ? std::vector<std::int64_t>{10'000 + static_cast<std::int64_t>(history_.size())}
               : std::vector<std::int64_t>{};
  const std::int64_t first_stream = training ? static_cast<std::int64_t>(noise_stream_) : std::int64_t{1} << 40;
  steps_->begin_epoch(split, shuffles, {first_stream}, dataset_.states());
  const DeviceSteps::LossBuilder build_loss = [&](Tape& tape, const BatchVars& vars) {
    return latf_loss(tape, *model_.spib, *model_.flow, phase, vars, config_.spib.beta, config_.flow.tau);
  };
  LossParts sum;
  const bool report_steps = training && on_step_;
  StepProgress progress;
  progress.phase = phase;
  progress.round = round;
  progress.epoch = epoch;
  progress.steps_in_epoch = (total + pc.batch_size - 1) / pc.batch_size;
  const auto epoch_start = report_steps ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  const auto diverged = [&](std::int64_t step, const std::string& what) {  // step < 0: not known
    roll_back();
    if (on_divergence_) on_divergence_();  // e.g. make sure the last good checkpoint is on disk
    throw BackendError(divergence_message(phase, epoch, step, training, what));
  };
  std::int64_t steps = 0;
  for (std::int64_t start = 0; start < total; start += pc.batch_size, ++steps) {
    const std::int64_t count = std::min<std::int64_t>(pc.batch_size, total - start);
    const double share = static_cast<double>(count) / total;
    try {
      steps_->step(phase, training, pc.batch_size, count, share, build_loss, optimizers);
    } catch (const NonFiniteStep& e) {
      diverged(steps, e.what());
    }
    if (step_checks_) {
      const Tape& tape = steps_->tape();
      const LossVars& parts = steps_->losses();
      const double loss_value = tape.value(parts.total).item();
      if (!std::isfinite(loss_value)) diverged(steps, concat("loss is ", loss_value));
      sum.add_step(share, loss_value, tape.value(parts.reconstruction).item(), tape.value(parts.prior).item());
    }
    if (report_steps) {
      progress.step = steps + 1;
      progress.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
      on_step_(progress);
    }
  }
  if (training) noise_stream_ += static_cast<std::uint64_t>(steps);
  if (!step_checks_) {
    const std::vector<float> read = steps_->read_sums();  // the epoch's one host synchronisation
    sum.reconstruction = read[0];
    sum.prior = read[1];
    sum.total = sum.reconstruction + config_.spib.beta * sum.prior;
    // A NaN/Inf step poisons every later sum, so the epoch total catches it; which step it was
    // is not known without a read per step.
    if (!std::isfinite(sum.total)) diverged(-1, concat("loss is ", sum.total));
  }
  return sum;
}

const PhaseConfig& phase_config(const LatfConfig& config, Phase phase) {
  return phase == Phase::Spib ? config.spib_phase : config.joint_phase;
}

Tensor values_snapshot(const autodiff::ParameterSet& set) {
  return set.allocated() && set.size() > 0 ? set.flat_values().clone() : Tensor();
}

namespace {
void restore(autodiff::ParameterSet& set, const Tensor& snapshot) {
  if (snapshot.defined() && set.allocated() && set.size() == snapshot.numel()) set.flat_values().copy_from(snapshot);
}
}  // namespace

void Trainer::remember_good_state() {
  // A device-to-device copy: no host synchronisation.
  good_spib_ = values_snapshot(model_.spib->parameters());
  good_flow_ = values_snapshot(model_.flow->parameters());
}

void Trainer::roll_back() {
  restore(model_.spib->parameters(), good_spib_);
  restore(model_.flow->parameters(), good_flow_);
}

void Trainer::refine_labels() {
  Refinement r = refine_states(model_, dataset_);
  steps_->forget_steps();  // they read the old model's parameters
  steps_->set_labels(0, r.labels);
  dataset_.relabel(std::move(r.labels), r.states);
  model_.spib = std::move(r.spib);
}

void Trainer::train_phase(Phase phase, const EpochCallback& on_epoch) {
  const PhaseConfig& pc = phase_config(config_, phase);
  reset_optimizers(phase);
  PhaseSchedule schedule(pc, dataset_.train_populations());
  for (int epoch = 0;; ++epoch) {
    const auto started = std::chrono::steady_clock::now();
    remember_good_state();  // the weights of the last completed epoch, the caller's checkpoint
    EpochRecord record;
    record.phase = phase;
    record.epoch = epoch;
    const double learning_rate = schedule.learning_rate();
    record.train = run_epoch(phase, Split::Train, true, schedule.round(), epoch, learning_rate);
    if (dataset_.pairs(Split::Validation) > 0)
      record.validation = run_epoch(phase, Split::Validation, false, schedule.round(), epoch, learning_rate);
    record.states = dataset_.states();
    record.populations = dataset_.train_populations();
    const bool converged = schedule.finish_epoch(record);
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    history_.push_back(record);
    if (on_epoch) on_epoch(record);

    if (!converged) continue;
    if (!schedule.may_refine()) break;
    refine_labels();
    schedule.next_round();
    reset_optimizers(phase);  // every live parameter, the new output layer included, trains on
  }
}

void Trainer::train(const EpochCallback& on_epoch) {
  train_phase(Phase::Spib, on_epoch);
  train_phase(Phase::Joint, on_epoch);
}

}  // namespace latf::models
