#pragma once
// Trajectories → the training set of LaTF (METHOD.md §2): descriptors normalised by their mean
// and standard deviation over all frames, time-lagged pairs (x_t, label_{t+Δt}) formed inside
// each trajectory only, per-frame data weights w and temperature weights b = T_ref / T_k, and a
// seeded train/validation split of the pairs. Frame labels (the current state assignment) live
// here too and change at every label refinement.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/tensor.hpp"
#include "kernels/gather.hpp"

namespace latf::models {

struct Trajectory {
  Tensor frames;                      // [N, D] float32 on the CPU
  double temperature = 0;             // T_k (> 0)
  std::vector<float> weights;         // per frame, ≥ 0; empty = all 1
  std::vector<std::int64_t> labels;   // per frame, ≥ 0; empty = k-means labels
  std::string name;                   // names the trajectory in error messages
};

struct Normalization {
  std::vector<float> mean, scale;  // per descriptor; scale = std (1 where a descriptor is constant)
  // (x − mean) / scale, row by row, on a CPU [N, D] tensor; returns a new tensor.
  Tensor apply(const Tensor& frames) const;
};

struct DatasetOptions {
  int lag = 30;
  double reference_temperature = 0;  // 0 = the lowest temperature
  double validation_fraction = 0.2;
  std::uint64_t seed = 0;
  int initial_states = 100;          // K0 for k-means when some trajectory has no labels
};

// The tensors of one batch: inputs [B, D] normalised x_t, targets [B, K] one-hot label of
// x_{t+Δt}, weights [B] data weight of frame t, inverse_temperature [B] b = T_ref / T_k.
using Batch = kernels::PairBatch;

enum class Split { Train, Validation };

class Dataset {
 public:
  // Validates everything before any work; throws InvalidArgument naming the trajectory and field.
  static Dataset build(std::vector<Trajectory> trajectories, const DatasetOptions& options);

  int descriptors() const { return descriptors_; }
  std::int64_t frames() const { return inputs_.dim(0); }
  int states() const { return states_; }
  double reference_temperature() const { return reference_temperature_; }
  const Normalization& normalization() const { return normalization_; }
  const Tensor& inputs() const { return inputs_; }  // [F, D], all trajectories concatenated
  const std::vector<std::int64_t>& frame_labels() const { return frame_labels_; }
  const std::vector<float>& frame_weights() const { return frame_weights_; }
  const std::vector<float>& frame_inverse_temperature() const { return frame_inverse_temperature_; }
  // Pair p joins frame present(p) to frame future(p) = present(p) + lag of the same trajectory.
  std::int64_t present(std::int64_t pair) const { return present_[pair]; }
  std::int64_t future(std::int64_t pair) const { return present_[pair] + lag_; }
  const std::vector<std::int64_t>& train_pairs() const { return train_pairs_; }
  const std::vector<std::int64_t>& validation_pairs() const { return validation_pairs_; }
  // Trajectory boundaries: frames [offset(k), offset(k+1)) belong to trajectory k.
  const std::vector<std::int64_t>& trajectory_offsets() const { return offsets_; }
  const std::vector<double>& temperatures() const { return temperatures_; }
  int lag() const { return lag_; }

  // Fills `batch` (on the CPU; resized on shape change only) with the given pairs.
  void gather(std::span<const std::int64_t> pairs, Batch& batch) const;

  // Device-resident training: place_on copies the frames, labels, weights, factors b and each
  // split's pair list to `device` once (relabel keeps the copy current); gather(split, …) then
  // fills `rows` batch rows on that device from positions [start, start + rows) of the split's
  // pair list, read through `order` (a permutation of the positions, on the same device) when
  // it is defined. No host work, copy or synchronisation per batch.
  void place_on(const Device& device);
  const Device& placed_device() const { return placed_.frames.device(); }
  std::int64_t pairs(Split split) const;
  void gather(Split split, const kernels::Indices& order, std::int64_t start, std::int64_t rows, Batch& batch) const;
  // Replaces the frame labels (each in [0, states)).
  void relabel(std::vector<std::int64_t> frame_labels, int states);
  // Weighted population of each state over the present frames of the training pairs.
  std::vector<double> train_populations() const;
  // The same for other frame labels (one model's among several trained on this data set).
  std::vector<double> train_populations(const std::vector<std::int64_t>& frame_labels, int states) const;
  // A split's pairs on the placed device, as the gather kernel reads them (the stacked trainer
  // swaps in each model's labels).
  kernels::PairSource pair_source(Split split) const;

 private:
  int descriptors_ = 0, states_ = 0, lag_ = 0;
  double reference_temperature_ = 0;
  Normalization normalization_;
  Tensor inputs_;
  std::vector<std::int64_t> frame_labels_, present_, train_pairs_, validation_pairs_, offsets_;
  std::vector<float> frame_weights_, frame_inverse_temperature_;
  std::vector<double> temperatures_;

  // The training data on one device, in the form the gather kernel reads.
  struct Placed {
    Tensor frames, weights, inverse_temperature;
    kernels::Indices labels, train_present, validation_present;
  };
  Placed on_device(const Device& device) const;
  kernels::PairSource source(const Placed& placed, Split split) const;
  Placed host_;    // on the CPU, always (serves the span gather)
  Placed placed_;  // on the training device (shares host_'s storage on the CPU)
};

// A seeded random permutation of 0..n−1 (Fisher–Yates on Philox draws), on the host. It makes
// the train/validation split; training epochs shuffle with kernels::permutation instead.
std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream);

}  // namespace latf::models
