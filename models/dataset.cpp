#include "models/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "data/kmeans.hpp"
#include "engine/error.hpp"
#include "engine/random.hpp"

namespace latf::models {

std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[i] = i;
  for (std::int64_t i = n - 1; i > 0; --i) {
    const rng::Philox4 w = rng::random_words(seed, stream, static_cast<std::uint64_t>(i));
    const std::uint64_t draw = (static_cast<std::uint64_t>(w.v[0]) << 32) | w.v[1];
    std::swap(order[i], order[draw % static_cast<std::uint64_t>(i + 1)]);
  }
  return order;
}

Tensor Normalization::apply(const Tensor& frames) const {
  LATF_REQUIRE(frames.rank() == 2 && frames.dim(1) == static_cast<std::int64_t>(mean.size()),
               "normalisation: expected frames of shape [N, ", mean.size(), "], got ", frames.shape().str());
  Tensor out = Tensor::empty(frames.shape());
  const Tensor host = frames.to(Device::cpu());  // held here: a temporary would free a device copy's storage
  const float* in = host.data<float>();
  float* o = out.data<float>();
  const std::int64_t d = frames.dim(1);
  for (std::int64_t i = 0; i < frames.numel(); ++i) o[i] = (in[i] - mean[i % d]) / scale[i % d];
  return out;
}

namespace {

void validate_trajectory(const Trajectory& t, std::size_t index, int lag, std::int64_t descriptors) {
  const std::string name = t.name.empty() ? concat("trajectory ", index) : t.name;
  LATF_REQUIRE(t.frames.defined() && t.frames.rank() == 2, name, ": expected frames of shape [N, D], got ",
               t.frames.defined() ? t.frames.shape().str() : std::string("none"));
  const std::int64_t n = t.frames.dim(0);
  LATF_REQUIRE(n > 0, name, ": the trajectory is empty");
  LATF_REQUIRE(t.frames.dim(1) >= 1, name, ": frames have no descriptors");
  LATF_REQUIRE(descriptors < 0 || t.frames.dim(1) == descriptors, name, ": ", t.frames.dim(1),
               " descriptors, but the first trajectory has ", descriptors);
  LATF_REQUIRE(t.frames.device().is_cpu() && t.frames.dtype() == DType::Float32, name,
               ": frames must be float32 on the CPU");
  LATF_REQUIRE(std::isfinite(t.temperature) && t.temperature > 0, name, ": temperature must be > 0, got ",
               t.temperature);
  LATF_REQUIRE(lag < n, name, ": lag ", lag, " frames is not shorter than the trajectory (", n, " frames)");
  const float* x = t.frames.data<float>();
  for (std::int64_t i = 0; i < t.frames.numel(); ++i)
    LATF_REQUIRE(std::isfinite(x[i]), name, ": non-finite descriptor ", x[i], " at frame ", i / t.frames.dim(1),
                 ", column ", i % t.frames.dim(1));
  if (!t.weights.empty()) {
    LATF_REQUIRE(static_cast<std::int64_t>(t.weights.size()) == n, name, ": ", t.weights.size(),
                 " weights for ", n, " frames");
    for (std::size_t i = 0; i < t.weights.size(); ++i)
      LATF_REQUIRE(std::isfinite(t.weights[i]) && t.weights[i] >= 0, name, ": weight ", t.weights[i], " at frame ",
                   i, " is negative or not finite");
  }
  if (!t.labels.empty()) {
    LATF_REQUIRE(static_cast<std::int64_t>(t.labels.size()) == n, name, ": ", t.labels.size(), " labels for ", n,
                 " frames");
    for (std::size_t i = 0; i < t.labels.size(); ++i)
      LATF_REQUIRE(t.labels[i] >= 0, name, ": negative label ", t.labels[i], " at frame ", i);
  }
}

// Renumbers labels to 0..K−1 in increasing order of the original values.
int compact_labels(std::vector<std::int64_t>& labels) {
  std::map<std::int64_t, std::int64_t> renumber;
  for (std::int64_t l : labels) renumber.emplace(l, 0);
  std::int64_t next = 0;
  for (auto& [label, index] : renumber) index = next++;
  for (std::int64_t& l : labels) l = renumber[l];
  return static_cast<int>(renumber.size());
}

}  // namespace

Dataset Dataset::build(std::vector<Trajectory> trajectories, const DatasetOptions& options) {
  LATF_REQUIRE(!trajectories.empty(), "dataset: no trajectories given");
  LATF_REQUIRE(options.lag >= 1, "lag: expected ≥ 1 frame, got ", options.lag);
  LATF_REQUIRE(options.validation_fraction >= 0 && options.validation_fraction < 1,
               "validation_fraction: expected in [0, 1), got ", options.validation_fraction);
  std::int64_t descriptors = -1;
  bool all_labelled = true;
  for (std::size_t k = 0; k < trajectories.size(); ++k) {
    validate_trajectory(trajectories[k], k, options.lag, descriptors);
    descriptors = trajectories[k].frames.dim(1);
    all_labelled = all_labelled && !trajectories[k].labels.empty();
  }
  Dataset ds;
  ds.descriptors_ = static_cast<int>(descriptors);
  ds.lag_ = options.lag;
  double lowest = INFINITY;
  for (const Trajectory& t : trajectories) lowest = std::min(lowest, t.temperature);
  ds.reference_temperature_ = options.reference_temperature > 0 ? options.reference_temperature : lowest;

  // Concatenate, recording trajectory boundaries, weights and temperature weights per frame.
  std::int64_t total = 0;
  for (const Trajectory& t : trajectories) total += t.frames.dim(0);
  Tensor raw = Tensor::empty({total, descriptors});
  ds.offsets_.push_back(0);
  for (const Trajectory& t : trajectories) {
    const std::int64_t n = t.frames.dim(0), start = ds.offsets_.back();
    raw.view(start * descriptors, t.frames.shape()).copy_from(t.frames);
    for (std::int64_t i = 0; i < n; ++i) {
      ds.frame_weights_.push_back(t.weights.empty() ? 1.f : t.weights[i]);
      ds.frame_inverse_temperature_.push_back(static_cast<float>(ds.reference_temperature_ / t.temperature));
    }
    for (std::int64_t i = 0; i + options.lag < n; ++i) ds.present_.push_back(start + i);
    ds.offsets_.push_back(start + n);
    ds.temperatures_.push_back(t.temperature);
  }

  // Normalise each descriptor by its mean and standard deviation over all frames (unweighted,
  // as the reference does); a constant descriptor keeps scale 1.
  const float* x = raw.data<float>();
  ds.normalization_.mean.assign(descriptors, 0.f);
  ds.normalization_.scale.assign(descriptors, 1.f);
  for (std::int64_t j = 0; j < descriptors; ++j) {
    double sum = 0, sum_sq = 0;
    for (std::int64_t i = 0; i < total; ++i) sum += x[i * descriptors + j];
    const double mean = sum / total;
    for (std::int64_t i = 0; i < total; ++i) sum_sq += (x[i * descriptors + j] - mean) * (x[i * descriptors + j] - mean);
    const double sd = std::sqrt(sum_sq / total);
    ds.normalization_.mean[j] = static_cast<float>(mean);
    ds.normalization_.scale[j] = sd > 0 ? static_cast<float>(sd) : 1.f;
  }
  ds.inputs_ = ds.normalization_.apply(raw);

  // Initial labels: the given ones (renumbered 0..K−1), else k-means on the normalised frames.
  if (all_labelled) {
    for (const Trajectory& t : trajectories) ds.frame_labels_.insert(ds.frame_labels_.end(), t.labels.begin(), t.labels.end());
  } else {
    const int clusters = static_cast<int>(std::min<std::int64_t>(options.initial_states, total));
    ds.frame_labels_ = data::kmeans(ds.inputs_, clusters, options.seed).labels;
  }
  ds.states_ = compact_labels(ds.frame_labels_);
  LATF_REQUIRE(ds.states_ >= 2, "initial labels: only one state is present; at least two are needed");

  // Seeded split of the pairs.
  const auto order = seeded_permutation(static_cast<std::int64_t>(ds.present_.size()), options.seed, 1);
  const auto validation = static_cast<std::size_t>(std::floor(options.validation_fraction * order.size()));
  ds.validation_pairs_.assign(order.begin(), order.begin() + validation);
  ds.train_pairs_.assign(order.begin() + validation, order.end());
  LATF_REQUIRE(!ds.train_pairs_.empty(), "dataset: no training pairs remain after the validation split");
  ds.host_ = ds.on_device(Device::cpu());
  ds.placed_ = ds.host_;
  return ds;
}

Dataset::Placed Dataset::on_device(const Device& device) const {
  const auto present_of = [&](const std::vector<std::int64_t>& pairs) {
    std::vector<std::int64_t> frames(pairs.size());
    for (std::size_t i = 0; i < pairs.size(); ++i) frames[i] = present_[pairs[i]];
    return kernels::Indices::from_vector(frames, device);
  };
  const Shape per_frame{frames()};
  Placed p;
  p.frames = inputs_.to(device);
  p.weights = Tensor::from_vector(frame_weights_, per_frame, device);
  p.inverse_temperature = Tensor::from_vector(frame_inverse_temperature_, per_frame, device);
  p.labels = kernels::Indices::from_vector(frame_labels_, device);
  p.train_present = present_of(train_pairs_);
  p.validation_present = present_of(validation_pairs_);
  return p;
}

kernels::PairSource Dataset::source(const Placed& placed, Split split) const {
  return kernels::PairSource{placed.frames, placed.labels, placed.weights, placed.inverse_temperature,
                             split == Split::Train ? placed.train_present : placed.validation_present, lag_, states_};
}

void Dataset::place_on(const Device& device) {
  if (placed_device() == device) return;
  placed_ = device.is_cpu() ? host_ : on_device(device);
}

std::int64_t Dataset::pairs(Split split) const {
  return static_cast<std::int64_t>(split == Split::Train ? train_pairs_.size() : validation_pairs_.size());
}

kernels::PairSource Dataset::pair_source(Split split) const { return source(placed_, split); }

void Dataset::gather(Split split, const kernels::Indices& order, std::int64_t start, std::int64_t rows,
                     Batch& batch) const {
  const kernels::PairSource s = source(placed_, split);
  kernels::resize_pair_batch(s, rows, batch);
  kernels::gather_pairs(s, order, start, batch);
}

void Dataset::gather(std::span<const std::int64_t> pairs, Batch& batch) const {
  std::vector<std::int64_t> present(pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    LATF_REQUIRE(pairs[i] >= 0 && pairs[i] < static_cast<std::int64_t>(present_.size()), "gather: pair ", pairs[i],
                 " outside [0, ", present_.size(), ")");
    present[i] = present_[pairs[i]];
  }
  kernels::PairSource s = source(host_, Split::Train);
  s.present = kernels::Indices::from_vector(present);
  kernels::resize_pair_batch(s, static_cast<std::int64_t>(pairs.size()), batch);
  kernels::gather_pairs(s, kernels::Indices(), 0, batch);
}

void Dataset::relabel(std::vector<std::int64_t> frame_labels, int states) {
  LATF_REQUIRE(frame_labels.size() == frame_labels_.size(), "relabel: ", frame_labels.size(), " labels for ",
               frame_labels_.size(), " frames");
  for (std::int64_t l : frame_labels)
    LATF_REQUIRE(l >= 0 && l < states, "relabel: label ", l, " outside [0, ", states, ")");
  frame_labels_ = std::move(frame_labels);
  states_ = states;
  host_.labels = kernels::Indices::from_vector(frame_labels_);
  placed_.labels = placed_device().is_cpu() ? host_.labels : kernels::Indices::from_vector(frame_labels_, placed_device());
}

std::vector<double> Dataset::train_populations() const { return train_populations(frame_labels_, states_); }

std::vector<double> Dataset::train_populations(const std::vector<std::int64_t>& frame_labels, int states) const {
  LATF_REQUIRE(frame_labels.size() == frame_labels_.size(), "train_populations: ", frame_labels.size(),
               " labels for ", frame_labels_.size(), " frames");
  std::vector<double> population(states, 0.0);
  double total = 0;
  for (std::int64_t p : train_pairs_) {
    const std::int64_t t = present_[p];
    population[frame_labels[t]] += frame_weights_[t];
    total += frame_weights_[t];
  }
  for (double& v : population) v = total > 0 ? v / total : 0.0;
  return population;
}

}  // namespace latf::models
