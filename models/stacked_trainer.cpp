#include "models/stacked_trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "engine/error.hpp"
#include "kernels/elementwise.hpp"
#include "models/refinement.hpp"

namespace latf::models {

using autodiff::Tape;
using autodiff::Var;

std::string stacking_conflict(const LatfConfig& a, const LatfConfig& b) {
  const std::pair<bool, const char*> checks[] = {
      {a.lag == b.lag, "lag"},
      {a.reference_temperature == b.reference_temperature, "reference_temperature"},
      {a.validation_fraction == b.validation_fraction, "validation_fraction"},
      {a.spib.encoder == b.spib.encoder, "spib.encoder"},
      {a.spib.latent_dim == b.spib.latent_dim, "spib.latent_dim"},
      {a.spib.encoder_width == b.spib.encoder_width, "spib.encoder_width"},
      {a.spib.decoder_width == b.spib.decoder_width, "spib.decoder_width"},
      {a.spib.input_dependent_variance == b.spib.input_dependent_variance, "spib.input_dependent_variance"},
      {a.spib.initial_states == b.spib.initial_states, "spib.initial_states"},
      {a.flow.layers == b.flow.layers, "flow.layers"},
      {a.flow.hidden == b.flow.hidden, "flow.hidden"},
      {a.flow.scale_clamp == b.flow.scale_clamp, "flow.scale_clamp"},
      {a.spib_phase.batch_size == b.spib_phase.batch_size, "spib_phase.batch_size"},
      {a.joint_phase.batch_size == b.joint_phase.batch_size, "joint_phase.batch_size"},
  };
  for (const auto& [same, key] : checks)
    if (!same) return key;
  return {};
}

// One model's course through training, as a Trainer would keep it.
struct StackedTrainer::Slot {
  LatfConfig config;
  std::vector<std::int64_t> labels;  // per frame (on the device: model m of steps_'s labels)
  int states = 0;                    // live states (the first `states` of the stack's K)
  std::vector<EpochRecord> history;
  std::uint64_t noise_stream = 1u << 20;  // as Trainer's
  // The running phase.
  bool active = false;
  std::optional<PhaseSchedule> schedule;
  // Divergence: what happened, and the model as it was at the end of its last good epoch.
  std::string failure;
  std::unique_ptr<LatfModel> last_good;
};

struct StackedTrainer::EpochLosses {
  std::vector<LossParts> parts;           // per model
  std::vector<std::int64_t> diverged_at;  // per model: −2 fine, −1 found at the epoch's end, else the step
  std::vector<std::string> what;
};

namespace {

constexpr std::int64_t kFine = -2;

// Copies slot m of every parameter back from a flat snapshot of the whole stacked set.
void restore_slot(autodiff::ParameterSet& set, const Tensor& snapshot, int m, int models) {
  if (!snapshot.defined()) return;
  Tensor flat = set.flat_values();
  for (int i = 0; i < set.count(); ++i) {
    const std::int64_t per_model = set.shape(i).numel() / models;
    const std::int64_t at = set.offset(i) + m * per_model;
    flat.view(at, {per_model}).copy_from(snapshot.view(at, {per_model}));
  }
}


}  // namespace

StackedTrainer::StackedTrainer(std::vector<LatfConfig> configs, Dataset& dataset, const Device& device)
    : dataset_(dataset), device_(device) {
  LATF_REQUIRE(!configs.empty(), "stacked training: expected at least one model configuration");
  for (std::size_t m = 1; m < configs.size(); ++m) {
    const std::string key = stacking_conflict(configs[0], configs[m]);
    LATF_REQUIRE(key.empty(), "stacked training: model ", m, " differs from model 0 in '", key,
                 "'; models trained together may differ only in seed, spib.beta, flow.tau and the phases' "
                 "learning rates, decay and stopping rules");
  }
  dataset_.place_on(device_);
  step_checks_ = device_.is_cpu();
  normalization_ = dataset.normalization();
  reference_temperature_ = dataset.reference_temperature();
  std::vector<LatfModel> singles;
  std::vector<const SpibModel*> spibs;
  std::vector<const RealNvp*> flows;
  std::vector<float> betas, taus;
  for (const LatfConfig& config : configs) {
    singles.push_back(LatfModel::create(config, dataset.descriptors(), dataset.states(), normalization_,
                                        reference_temperature_, device));
    Slot slot;
    slot.config = config;
    slot.labels = dataset.frame_labels();
    slot.states = dataset.states();
    slots_.push_back(std::move(slot));
    betas.push_back(static_cast<float>(config.spib.beta));
    taus.push_back(static_cast<float>(config.flow.tau));
  }
  for (const LatfModel& single : singles) {
    spibs.push_back(single.spib.get());
    flows.push_back(single.flow.get());
  }
  spib_ = std::make_unique<SpibModel>(SpibModel::stack(spibs));
  flow_ = std::make_unique<RealNvp>(RealNvp::stack(flows));
  const Shape per_model{models()};
  betas_ = Tensor::from_vector(betas, per_model, device_);
  taus_ = Tensor::from_vector(taus, per_model, device_);
  std::vector<std::uint64_t> seeds;
  for (const Slot& slot : slots_) seeds.push_back(slot.config.seed);
  steps_ = std::make_unique<DeviceSteps>(DeviceSteps::data_of(dataset_, slots_[0].config.spib.latent_dim), device_,
                                         seeds, false);
}

StackedTrainer::~StackedTrainer() = default;

void StackedTrainer::set_graphs(bool on) { steps_->set_graphs(on); }
const std::string& StackedTrainer::graph_fallback() const { return steps_->graph_fallback(); }

int StackedTrainer::models() const { return static_cast<int>(slots_.size()); }

const StackedTrainer::Slot& StackedTrainer::slot(int m) const {
  LATF_REQUIRE(m >= 0 && m < models(), "stacked trainer: model ", m, " outside [0, ", models(), ")");
  return slots_[m];
}

const LatfConfig& StackedTrainer::config(int m) const { return slot(m).config; }
const std::vector<EpochRecord>& StackedTrainer::history(int m) const { return slot(m).history; }
const std::string& StackedTrainer::failure(int m) const { return slot(m).failure; }
int StackedTrainer::states(int m) const { return slot(m).states; }
const std::vector<std::int64_t>& StackedTrainer::frame_labels(int m) const { return slot(m).labels; }

LatfModel StackedTrainer::model(int m) const {
  const Slot& s = slot(m);
  LatfModel single;
  single.config = s.config;
  single.normalization = normalization_;
  single.reference_temperature = reference_temperature_;
  if (s.last_good) {  // a copy of the kept model, through a stack of one
    single.spib = std::make_unique<SpibModel>(SpibModel::stack({s.last_good->spib.get()}).model(0, s.states));
    single.flow = std::make_unique<RealNvp>(RealNvp::stack({s.last_good->flow.get()}).model(0));
  } else {
    single.spib = std::make_unique<SpibModel>(spib_->model(m, s.states));
    single.flow = std::make_unique<RealNvp>(flow_->model(m));
  }
  return single;
}

void StackedTrainer::set_learning_rates() {
  // A model out of the running phase keeps its weights: rate 0.
  std::vector<float> rates(models(), 0.f);
  for (int m = 0; m < models(); ++m)
    if (slots_[m].active) rates[m] = static_cast<float>(slots_[m].schedule->learning_rate());
  spib_adam_->set_learning_rates(rates);
  if (flow_adam_) flow_adam_->set_learning_rates(rates);
}

StackedTrainer::EpochLosses StackedTrainer::run_epoch(Phase phase, Split split, bool training, int epoch) {
  const int count_models = models();
  const std::int64_t batch_size = phase_config(slots_[0].config, phase).batch_size;  // shared by the stack
  const std::int64_t total = dataset_.pairs(split);
  steps_->set_step_checks(step_checks_, false);  // one model's NaN must not stop the others: losses are checked per model
  // Each model shuffles with its own seed and epoch count, as its Trainer would; validation keeps
  // the split's order; a model out of the phase reads in order (its batches only feed a frozen
  // update). Noise streams as each model's Trainer numbers them: a training step of an active
  // model takes its next stream, a validation step s stream 2^40 + s; a frozen model draws from
  // 2^41 + s.
  std::vector<std::int64_t> shuffles, streams(count_models);
  for (int m = 0; m < count_models; ++m) {
    const Slot& s = slots_[m];
    if (training) shuffles.push_back(s.active ? 10'000 + static_cast<std::int64_t>(s.history.size()) : -1);
    streams[m] = static_cast<std::int64_t>(!training ? (1ull << 40) : s.active ? s.noise_stream : (1ull << 41));
  }
  steps_->begin_epoch(split, shuffles, streams, spib_->states());  // the stack's width; model m's labels stay below its live count
  std::vector<autodiff::ModelAdam*> optimizers;
  if (training)
    for (autodiff::ModelAdam* adam : {spib_adam_.get(), flow_adam_.get()})
      if (adam) optimizers.push_back(adam);
  const DeviceSteps::LossBuilder build_loss = [&](Tape& tape, const BatchVars& vars) {
    return stacked_latf_loss(tape, *spib_, *flow_, phase, vars, betas_, taus_);
  };
  EpochLosses losses;
  losses.parts.assign(count_models, LossParts{});
  losses.diverged_at.assign(count_models, kFine);
  losses.what.assign(count_models, std::string());
  const auto diverged = [&](int m, std::int64_t step, const std::string& what) {
    if (losses.diverged_at[m] != kFine) return;  // the first finding counts
    losses.diverged_at[m] = step;
    losses.what[m] = what;
  };
  const bool report_steps = training && on_step_;
  StepProgress progress;
  progress.phase = phase;
  progress.epoch = epoch;
  for (const Slot& s : slots_)
    if (s.schedule) progress.round = std::max(progress.round, s.schedule->round());
  progress.steps_in_epoch = (total + batch_size - 1) / batch_size;
  const auto epoch_start = report_steps ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  std::int64_t steps = 0;
  for (std::int64_t start = 0; start < total; start += batch_size, ++steps) {
    const std::int64_t rows = std::min<std::int64_t>(batch_size, total - start);
    const double share = static_cast<double>(rows) / total;
    steps_->step(phase, training, batch_size, rows, share, build_loss, optimizers);
    if (step_checks_) {
      const Tape& tape = steps_->tape();
      const std::vector<float> reconstruction = tape.value(steps_->losses().reconstruction).to_vector();
      const std::vector<float> prior = tape.value(steps_->losses().prior).to_vector();
      for (int m = 0; m < count_models; ++m) {
        const Slot& s = slots_[m];
        if (!s.active && training) continue;
        // Model m's loss exactly as its Trainer forms it: the same axpby on one element.
        const Tensor r = Tensor::from_vector(std::vector<float>{reconstruction[m]}, {1});
        const Tensor p = Tensor::from_vector(std::vector<float>{prior[m]}, {1});
        Tensor loss = Tensor::empty({1});
        kernels::axpby(1.0, r, s.config.spib.beta, p, loss);
        const double value = loss.item();
        if (!std::isfinite(value)) diverged(m, steps, concat("loss is ", value));
        losses.parts[m].add_step(share, value, reconstruction[m], prior[m]);
      }
    }
    if (report_steps) {
      progress.step = steps + 1;
      progress.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
      on_step_(progress);
    }
  }
  if (training)
    for (Slot& s : slots_)
      if (s.active) s.noise_stream += static_cast<std::uint64_t>(steps);
  if (!step_checks_) {
    const std::vector<float> read = steps_->read_sums();  // the epoch's one host synchronisation
    for (int m = 0; m < count_models; ++m) {
      LossParts& sum = losses.parts[m];
      sum.reconstruction = read[m];
      sum.prior = read[count_models + m];
      sum.total = sum.reconstruction + slots_[m].config.spib.beta * sum.prior;
      if (!std::isfinite(sum.total)) diverged(m, -1, concat("loss is ", sum.total));
    }
  }
  return losses;
}

void StackedTrainer::fail(int m, Phase phase, int epoch, std::int64_t step, const std::string& what, bool training) {
  // Back to the end of its last good epoch, with fresh moments: a frozen model's update is then
  // exactly zero. The copy kept in last_good is what model(m) returns from now on.
  restore_slot(spib_->parameters(), good_spib_, m, models());
  restore_slot(flow_->parameters(), good_flow_, m, models());
  spib_adam_->reset_model(m);
  if (flow_adam_) flow_adam_->reset_model(m);
  stop(m, divergence_message(phase, epoch, step, training, what));
}

void StackedTrainer::stop(int m, const std::string& failure) {
  Slot& s = slots_[m];
  s.failure = failure;
  s.active = false;
  s.last_good = std::make_unique<LatfModel>(model(m));  // what model(m) returns from now on
}

void StackedTrainer::refine(int m) {
  Slot& s = slots_[m];
  const LatfModel single = model(m);
  Refinement r = refine_states(single, dataset_);
  spib_->set_model(m, *r.spib);
  s.labels = std::move(r.labels);
  s.states = r.states;
  steps_->set_labels(m, s.labels);
  // As Trainer rebuilds its optimizers after a refinement: fresh moments for every live parameter.
  spib_adam_->reset_model(m);
  if (flow_adam_) flow_adam_->reset_model(m);
}

void StackedTrainer::train_phase(Phase phase, const EpochCallback& on_epoch) {
  steps_->forget_steps();  // the recorded steps use the previous phase's optimizers
  spib_adam_ = std::make_unique<autodiff::ModelAdam>(spib_->parameters(), models());
  flow_adam_.reset();
  if (phase == Phase::Joint && flow_->parameters().size() > 0)
    flow_adam_ = std::make_unique<autodiff::ModelAdam>(flow_->parameters(), models());
  for (Slot& s : slots_) {
    s.active = s.failure.empty();
    s.schedule.emplace(phase_config(s.config, phase), dataset_.train_populations(s.labels, s.states));
  }
  const auto any_active = [&] { return std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.active; }); };
  for (int epoch = 0; any_active(); ++epoch) {
    const auto started = std::chrono::steady_clock::now();
    good_spib_ = values_snapshot(spib_->parameters());
    good_flow_ = values_snapshot(flow_->parameters());
    set_learning_rates();
    const EpochLosses train = run_epoch(phase, Split::Train, true, epoch);
    const bool validate = dataset_.pairs(Split::Validation) > 0;
    const EpochLosses validation = validate ? run_epoch(phase, Split::Validation, false, epoch) : EpochLosses{};
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    for (int m = 0; m < models(); ++m) {
      Slot& s = slots_[m];
      if (!s.active) continue;
      if (train.diverged_at[m] != kFine) {
        fail(m, phase, epoch, train.diverged_at[m], train.what[m], true);
        continue;
      }
      if (validate && validation.diverged_at[m] != kFine) {
        fail(m, phase, epoch, validation.diverged_at[m], validation.what[m], false);
        continue;
      }
      EpochRecord record;
      record.phase = phase;
      record.epoch = epoch;
      record.train = train.parts[m];
      if (validate) record.validation = validation.parts[m];
      record.states = s.states;
      record.populations = dataset_.train_populations(s.labels, s.states);
      const bool converged = s.schedule->finish_epoch(record);
      record.seconds = seconds;  // the stack's epoch: every model's share of one pass
      s.history.push_back(record);
      if (on_epoch) on_epoch(m, record);

      if (!converged) continue;
      if (!s.schedule->may_refine()) {
        s.active = false;  // this phase is over for model m; it waits frozen
        continue;
      }
      try {
        refine(m);
      } catch (const InvalidArgument& e) {  // too few states left: this model cannot go on
        stop(m, e.what());
        continue;
      }
      s.schedule->next_round();
    }
  }
}

void StackedTrainer::train(const EpochCallback& on_epoch) {
  train_phase(Phase::Spib, on_epoch);
  train_phase(Phase::Joint, on_epoch);
}

}  // namespace latf::models
