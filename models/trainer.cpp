#include "models/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "autodiff/ops.hpp"
#include "engine/error.hpp"
#include "engine/random_fill.hpp"
#include "models/inference.hpp"

namespace latf::models {

using autodiff::Tape;
using autodiff::Var;

Trainer::Trainer(const LatfConfig& config, Dataset& dataset, const Device& device)
    : config_(config), dataset_(dataset), device_(device) {
  model_ = LatfModel::create(config, dataset.descriptors(), dataset.states(), dataset.normalization(),
                             dataset.reference_temperature(), device);
}

void Trainer::reset_optimizers(Phase phase) {
  spib_adam_ = std::make_unique<autodiff::Adam>(model_.spib->parameters());
  flow_adam_.reset();
  if (phase == Phase::Joint && model_.flow->parameters().size() > 0)
    flow_adam_ = std::make_unique<autodiff::Adam>(model_.flow->parameters());
}

LossParts Trainer::run_epoch(Phase phase, const std::vector<std::int64_t>& pairs, bool training, int epoch,
                             double learning_rate) {
  const PhaseConfig& pc = phase == Phase::Spib ? config_.spib_phase : config_.joint_phase;
  const double beta = config_.spib.beta;
  const int d = config_.spib.latent_dim;
  std::vector<std::int64_t> order = pairs;
  if (training) {
    const auto perm = seeded_permutation(static_cast<std::int64_t>(pairs.size()), config_.seed, 10'000 + history_.size());
    for (std::size_t i = 0; i < perm.size(); ++i) order[i] = pairs[perm[i]];
  }
  Tape tape;
  tape.set_check_finite(device_.is_cpu());  // on a GPU the per-step loss check stands in for it
  tape.set_grad_enabled(training);
  Batch batch;
  LossParts sum;
  const std::int64_t total = static_cast<std::int64_t>(order.size());
  for (std::int64_t start = 0, step = 0; start < total; start += pc.batch_size, ++step) {
    const std::int64_t count = std::min<std::int64_t>(pc.batch_size, total - start);
    dataset_.gather(std::span<const std::int64_t>(order.data() + start, count), batch);
    tape.clear();
    if (training) {
      model_.spib->parameters().zero_grad();
      if (flow_adam_) model_.flow->parameters().zero_grad();
    }
    Tensor noise = Tensor::empty({count, d}, device_);
    fill_normal(noise, config_.seed, training ? noise_stream_++ : (1ull << 40) + static_cast<std::uint64_t>(step));
    const auto diverged = [&](const std::string& what) {
      if (on_divergence_) on_divergence_();  // e.g. write the last good checkpoint
      throw BackendError(concat("training diverged in the ", phase_name(phase), " phase, epoch ", epoch, ", step ",
                                step, training ? "" : " (validation)", ": ", what));
    };
    LossVars parts;
    double loss_value = NAN;
    try {
      const BatchVars vars{tape.constant(batch.inputs.to(device_)), tape.constant(batch.targets.to(device_)),
                           tape.constant(batch.weights.to(device_)),
                           tape.constant(batch.inverse_temperature.to(device_)), tape.constant(noise)};
      parts = latf_loss(tape, *model_.spib, *model_.flow, phase, vars, beta, config_.flow.tau);
      loss_value = tape.value(parts.total).item();
    } catch (const InvalidArgument& e) {  // check mode found a NaN/Inf inside the step
      diverged(e.what());
    }
    if (!std::isfinite(loss_value)) diverged(concat("loss is ", loss_value));
    if (training) {
      tape.backward(parts.total);
      spib_adam_->step(static_cast<float>(learning_rate));
      if (flow_adam_) flow_adam_->step(static_cast<float>(learning_rate));
    }
    const double share = static_cast<double>(count) / total;
    sum.total += share * loss_value;
    sum.reconstruction += share * tape.value(parts.reconstruction).item();
    sum.prior += share * tape.value(parts.prior).item();
  }
  return sum;
}

void Trainer::refine_labels() {
  // (1) relabel every frame by the decoder applied to its encoded mean: the target of pair
  // (t, t+Δt) becomes argmax_k q(k | μ(x_{t+Δt})).
  const Tensor means = encode_normalized(model_, dataset_.inputs());
  std::vector<std::int64_t> labels = decode_states(model_, means);
  const int old_states = model_.spib->states();
  const std::vector<float>& w = dataset_.frame_weights();
  std::vector<double> population(old_states, 0.0);
  for (std::size_t f = 0; f < labels.size(); ++f) population[labels[f]] += w[f];
  // (2) drop empty states and shrink the decoder.
  std::vector<int> keep, renumber(old_states, -1);
  for (int k = 0; k < old_states; ++k)
    if (population[k] > 0) {
      renumber[k] = static_cast<int>(keep.size());
      keep.push_back(k);
    }
  LATF_REQUIRE(keep.size() >= 2, "label refinement: only ", keep.size(),
               " state remains populated; the data show no second metastable state at this lag and β");
  for (std::int64_t& l : labels) l = renumber[l];
  auto next = std::make_unique<SpibModel>(model_.spib->with_states(keep));
  // (3) pseudo-input of each state = the frame whose μ is nearest the state's weighted mean μ.
  const int d = config_.spib.latent_dim;
  const float* mu = means.data<float>();
  std::vector<double> centre(keep.size() * d, 0.0), mass(keep.size(), 0.0);
  for (std::size_t f = 0; f < labels.size(); ++f) {
    mass[labels[f]] += w[f];
    for (int j = 0; j < d; ++j) centre[labels[f] * d + j] += w[f] * mu[f * d + j];
  }
  std::vector<double> best(keep.size(), INFINITY);
  std::vector<std::int64_t> nearest(keep.size(), 0);
  for (std::size_t k = 0; k < keep.size(); ++k)
    for (int j = 0; j < d; ++j) centre[k * d + j] /= mass[k];
  for (std::size_t f = 0; f < labels.size(); ++f) {
    const std::int64_t k = labels[f];
    double dist = 0;
    for (int j = 0; j < d; ++j) dist += (mu[f * d + j] - centre[k * d + j]) * (mu[f * d + j] - centre[k * d + j]);
    if (dist < best[k]) {
      best[k] = dist;
      nearest[k] = static_cast<std::int64_t>(f);
    }
  }
  const float* x = dataset_.inputs().data<float>();
  for (std::size_t k = 0; k < keep.size(); ++k)
    next->set_pseudo_input(static_cast<int>(k), x + nearest[k] * dataset_.descriptors());
  dataset_.relabel(std::move(labels), static_cast<int>(keep.size()));
  model_.spib = std::move(next);
}

void Trainer::train_phase(Phase phase, const EpochCallback& on_epoch) {
  const PhaseConfig& pc = phase == Phase::Spib ? config_.spib_phase : config_.joint_phase;
  reset_optimizers(phase);
  int round = 0, since_refinement = 0, calm_epochs = 0;
  double previous_loss = NAN;
  std::vector<double> previous_population = dataset_.train_populations();
  for (int epoch = 0;; ++epoch) {
    const auto started = std::chrono::steady_clock::now();
    EpochRecord record;
    record.phase = phase;
    record.epoch = epoch;
    record.round = round;
    record.learning_rate = pc.learning_rate * std::pow(pc.lr_decay, since_refinement);
    record.train = run_epoch(phase, dataset_.train_pairs(), true, epoch, record.learning_rate);
    if (!dataset_.validation_pairs().empty())
      record.validation = run_epoch(phase, dataset_.validation_pairs(), false, epoch, record.learning_rate);
    record.states = dataset_.states();
    record.populations = dataset_.train_populations();
    if (record.populations.size() == previous_population.size())
      for (std::size_t k = 0; k < record.populations.size(); ++k)
        if (previous_population[k] > 0)
          record.population_change = std::max(
              record.population_change, std::abs(record.populations[k] - previous_population[k]) / previous_population[k]);
    previous_population = record.populations;
    record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    history_.push_back(record);
    if (on_epoch) on_epoch(record);

    calm_epochs = std::abs(record.train.total - previous_loss) < pc.tolerance ? calm_epochs + 1 : 0;
    previous_loss = record.train.total;
    ++since_refinement;
    const bool converged = calm_epochs >= pc.patience || since_refinement >= pc.max_epochs;
    if (!converged) continue;
    if (round >= pc.refinements) break;
    refine_labels();
    ++round;
    since_refinement = 0;
    calm_epochs = 0;
    previous_loss = NAN;
    reset_optimizers(phase);  // every live parameter, the new output layer included, trains on
  }
}

void Trainer::train(const EpochCallback& on_epoch) {
  train_phase(Phase::Spib, on_epoch);
  train_phase(Phase::Joint, on_epoch);
}

}  // namespace latf::models
