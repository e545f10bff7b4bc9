#include "models/device_steps.hpp"

#include "engine/error.hpp"
#include "engine/random_fill.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/permutation.hpp"

namespace latf::models {

using autodiff::Tape;

// One step shape's buffers, kept for as long as a recorded graph may replay them.
struct DeviceSteps::StepState {
  kernels::PairBatch batch;  // [M, rows, ...]
  Tensor noise;              // [M, rows, d]
  Tape tape;
  LossVars loss;
};

namespace {
// Writes `values` (one word per model) into the fixed device list `list`.
void write_words(kernels::Indices& list, const std::vector<std::int64_t>& values, const Device& device) {
  kernels::stack_indices(list, 0, kernels::Indices::from_vector(values, device));
}

// The single-form view [rows, ...] of a stack of one [1, rows, ...].
Tensor unstacked(const Tensor& t) {
  const Shape& s = t.shape();
  switch (s.rank()) {
    case 2: return t.reshape({s[1]});
    case 3: return t.reshape({s[1], s[2]});
    default: return t.reshape({s[1], s[2], s[3]});  // batch tensors have rank 2 or 3
  }
}
}  // namespace

DeviceSteps::Data DeviceSteps::data_of(const Dataset& dataset, int latent_dim) {
  return Data{dataset.pair_source(Split::Train), dataset.pair_source(Split::Validation), dataset.frame_labels(),
              dataset.descriptors(), latent_dim};
}

DeviceSteps::DeviceSteps(Data data, const Device& device, const std::vector<std::uint64_t>& seeds, bool single)
    : data_(std::move(data)), device_(device), models_(static_cast<int>(seeds.size())), single_(single),
      frames_(data_.train.frames.shape()[0]), seeds_host_(seeds) {
  LATF_REQUIRE(models_ >= 1, "device steps: expected at least one model");
  LATF_REQUIRE(!single || models_ == 1, "device steps: the single form takes one model, got ", models_);
  LATF_REQUIRE(data_.train.frames.device() == device, "device steps: the data set lives on ",
               data_.train.frames.device().str(), ", the steps run on ", device.str());
  labels_ = kernels::Indices::empty(models_ * frames_, device_);
  for (int m = 0; m < models_; ++m) set_labels(m, data_.labels);
  std::vector<std::int64_t> words;
  for (std::uint64_t seed : seeds) words.push_back(static_cast<std::int64_t>(seed));
  seeds_ = kernels::Indices::from_vector(words, device_);
  streams_ = kernels::Indices::empty(models_, device_);
  position_ = kernels::Indices::from_vector({0}, device_);
  sums_ = Tensor::zeros({2, models_}, device_);
  graphs_ = std::make_unique<StepGraphs>(device_);
}

DeviceSteps::~DeviceSteps() = default;

void DeviceSteps::set_labels(int m, const std::vector<std::int64_t>& labels) {
  LATF_REQUIRE(m >= 0 && m < models_, "device steps: model ", m, " outside [0, ", models_, ")");
  LATF_REQUIRE(static_cast<std::int64_t>(labels.size()) == frames_, "device steps: labels of model ", m, ": expected ",
               frames_, " (one per frame), got ", labels.size());
  // In place: recorded steps keep reading this list.
  kernels::stack_indices(labels_, m, kernels::Indices::from_vector(labels, device_));
}

void DeviceSteps::forget_steps() {
  graphs_->clear();  // first: the recordings replay the step buffers
  steps_.clear();
  last_ = nullptr;
}

void DeviceSteps::begin_epoch(Split split, const std::vector<std::int64_t>& shuffles,
                              const std::vector<std::int64_t>& streams, int states) {
  LATF_REQUIRE(streams.size() == static_cast<std::size_t>(models_), "device steps: expected ", models_,
               " noise streams, got ", streams.size());
  LATF_REQUIRE(shuffles.empty() || shuffles.size() == static_cast<std::size_t>(models_), "device steps: expected ",
               models_, " shuffles or none, got ", shuffles.size());
  const kernels::PairSource& pairs = split == Split::Train ? data_.train : data_.validation;
  total_ = pairs.present.size();
  source_ = kernels::StackedPairSource{pairs, labels_, kernels::Indices()};
  source_.split.states = states;
  if (!shuffles.empty()) {
    if (orders_.size() != models_ * total_) {
      orders_ = kernels::Indices::empty(models_ * total_, device_);
      graphs_->clear();  // recorded steps read the old list
    }
    for (int m = 0; m < models_; ++m) {
      if (shuffles[m] < 0) {
        kernels::stack_identity(orders_, m, total_);
        continue;
      }
      kernels::Indices order = kernels::Indices::empty(total_, device_);
      kernels::permutation(order, seeds_host_[m], static_cast<std::uint64_t>(shuffles[m]));
      kernels::stack_indices(orders_, m, order);
    }
    source_.orders = orders_;
  }
  write_words(streams_, streams, device_);
  write_words(position_, {0}, device_);  // each step advances it, wrapping to 0 after the last
  if (!step_checks_) sums_.zero();
}

void DeviceSteps::step(Phase phase, bool training, std::int64_t batch_size, std::int64_t rows, double share,
                       const LossBuilder& build_loss, const std::vector<autodiff::ModelAdam*>& optimizers) {
  // A step's shape: phase, training or validation (another split, no update), full or last batch.
  const std::int64_t key = ((phase == Phase::Joint ? 2 : 0) + (training ? 1 : 0)) * 2 + (rows == batch_size ? 0 : 1);
  std::unique_ptr<StepState>& state = steps_[key];
  // Buffers of another shape (the states changed after a refinement, or a caller changed the
  // batch size) are rebuilt, and every recording with them.
  const Shape& kept = state ? state->batch.targets.shape() : Shape{};
  if (state && (kept[1] != rows || kept[2] != source_.split.states)) {
    graphs_->clear();
    state.reset();
  }
  if (!state) {
    state = std::make_unique<StepState>();
    kernels::PairBatch& b = state->batch;
    b.inputs = Tensor::empty({models_, rows, data_.descriptors}, device_);
    b.targets = Tensor::empty({models_, rows, source_.split.states}, device_);
    b.weights = Tensor::empty({models_, rows}, device_);
    b.inverse_temperature = Tensor::empty({models_, rows}, device_);
    state->noise = Tensor::empty({models_, rows, data_.latent_dim}, device_);
  }
  StepState& st = *state;
  last_ = &st;
  // Everything a step does on the device; nothing in it changes from one step to the next except
  // through device memory (the position, the streams, Adam's counts), so it replays.
  const auto run = [&] {
    kernels::gather_pairs_stacked(source_, position_, st.batch);
    kernels::advance_position(position_, batch_size, total_);
    fill_normal_stacked(st.noise, seeds_, streams_);
    advance_streams(streams_);
    st.tape.clear();
    st.tape.set_check_finite(step_checks_ && check_finite_);
    st.tape.set_grad_enabled(training);
    if (training)
      for (autodiff::ModelAdam* optimizer : optimizers) optimizer->parameters().zero_grad();
    const auto input = [&](const Tensor& t) { return st.tape.constant(single_ ? unstacked(t) : t); };
    const BatchVars vars{input(st.batch.inputs), input(st.batch.targets), input(st.batch.weights),
                         input(st.batch.inverse_temperature), input(st.noise)};
    try {
      st.loss = build_loss(st.tape, vars);
    } catch (const InvalidArgument& e) {
      if (!st.tape.check_finite()) throw;
      throw NonFiniteStep(e.what());  // check mode found a NaN/Inf inside the step
    }
    if (!step_checks_) {
      Tensor reconstruction_sums = sums_.view(0, {models_}), prior_sums = sums_.view(models_, {models_});
      kernels::accumulate_scaled(share, st.tape.value(st.loss.reconstruction).reshape({models_}), reconstruction_sums);
      kernels::accumulate_scaled(share, st.tape.value(st.loss.prior).reshape({models_}), prior_sums);
    }
    if (training) {
      st.tape.backward(st.loss.total);
      for (autodiff::ModelAdam* optimizer : optimizers) optimizer->step();
    }
  };
  if (graphs_on_ && !step_checks_ && device_.is_cuda()) {
    try {
      graphs_->run(key, run);
      return;
    } catch (const GraphRecordingError& e) {  // nothing of the step ran: queue it op by op from now on
      graphs_on_ = false;
      graph_fallback_ = e.what();
    }
  }
  run();
}

const LossVars& DeviceSteps::losses() const {
  LATF_REQUIRE(last_ != nullptr, "device steps: no step has run");
  return last_->loss;
}

const Tape& DeviceSteps::tape() const {
  LATF_REQUIRE(last_ != nullptr, "device steps: no step has run");
  return last_->tape;
}

std::vector<float> DeviceSteps::read_sums() const {
  LATF_REQUIRE(!step_checks_, "device steps: the epoch sums are kept only without per-step checks");
  return sums_.to_vector();
}

}  // namespace latf::models
