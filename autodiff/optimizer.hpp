#pragma once
// Flat parameter storage and the Adam optimizer over it.
//
// ParameterSet: parameters are declared by name and shape, then allocate() creates ONE flat
// value buffer and ONE flat gradient buffer; every parameter is a view into both. The optimizer
// updates the whole flat buffer in one kernel and zero_grad() is one memset. Register a parameter
// on a tape with tape.parameter(set.value(i), set.grad(i)).
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.hpp"
#include "kernels/adam.hpp"
#include "kernels/permutation.hpp"  // Indices

namespace latf::autodiff {

class ParameterSet {
 public:
  // Before allocate(); names are unique. Returns the parameter's index.
  int declare(const std::string& name, const Shape& shape);
  // Values start at 0 (the models layer initialises them), gradients at 0. Once only.
  void allocate(const Device& device, DType dtype = DType::Float32);
  bool allocated() const { return values_.defined(); }

  int count() const { return static_cast<int>(entries_.size()); }  // number of parameters
  std::int64_t size() const { return size_; }                       // number of scalars in all
  const std::vector<std::string>& names() const { return names_; }
  const Shape& shape(int index) const;
  // Where the parameter starts in the flat buffers (in elements).
  std::int64_t offset(int index) const { return entry(index).offset; }
  // The index of a declared name; throws InvalidArgument naming an unknown one.
  int index(const std::string& name) const;

  // Views into the flat buffers (after allocate()). Tensors are handles: writing through a
  // returned tensor (copy_from, fill) writes the set's storage.
  Tensor value(int index) const;
  Tensor grad(int index) const;
  Tensor value(const std::string& name) const { return value(index(name)); }
  Tensor grad(const std::string& name) const { return grad(index(name)); }
  Tensor flat_values() const;
  Tensor flat_grads() const;
  void zero_grad();

 private:
  struct Entry {
    Shape shape;
    std::int64_t offset = 0;
  };
  const Entry& entry(int index) const;
  void require_allocated(const char* what) const;

  std::vector<Entry> entries_;
  std::vector<std::string> names_;
  std::int64_t size_ = 0;
  Tensor values_, grads_;
};

// torch.optim.Adam over a whole ParameterSet (which must outlive the optimizer and be allocated
// before it is constructed). The learning rate is given per step: the caller owns the schedule.
class Adam {
 public:
  Adam(ParameterSet& parameters, const kernels::AdamConfig& config = {});
  // One update from the current gradients with this learning rate (config's other fields apply).
  void step(float learning_rate);
  // Fresh moments and step count 0, e.g. when training restarts after a label refinement.
  void reset();
  // Resumes a saved run (a checkpoint): the step count and copies of both moments, which must
  // have the parameter buffer's shape and dtype (any device).
  void restore(std::int64_t steps, const Tensor& first_moment, const Tensor& second_moment);
  std::int64_t steps() const { return steps_; }
  const kernels::AdamConfig& config() const { return config_; }
  const Tensor& first_moment() const { return first_moment_; }
  const Tensor& second_moment() const { return second_moment_; }

 private:
  ParameterSet& parameters_;
  kernels::AdamConfig config_;
  Tensor first_moment_, second_moment_;
  std::int64_t steps_ = 0;
};

// torch.optim.Adam for M models of one architecture stacked in one ParameterSet: every declared
// parameter is [M, ...single shape] and model m owns the slice [m] of each. Each model has its
// own learning rate and its own step count (so its own bias corrections), and can be reset
// alone. step() makes no host↔device copy and no synchronisation (it can be captured in a CUDA
// Graph): the step counts, learning rates, per-model coefficients and the segment table that
// maps an element to its model all live on the parameters' device, allocated once here.
// On the CPU, model m's slice evolves bit for bit as a single-model ParameterSet holding that
// slice does under Adam with step(rate_m) and reset() at the same points.
class ModelAdam {
 public:
  // Every parameter's leading dim must be `models` (≥ 1); with models = 1 the parameters may also
  // have their single-model shapes (one model is a stack of one). Until set_learning_rates, every
  // model uses config.learning_rate.
  ModelAdam(ParameterSet& stacked, int models, const kernels::AdamConfig& config = {});
  // One rate per model, each finite and ≥ 0 (0 freezes that model's weights; its moments and
  // step count still advance, as with Adam::step(0)). One host→device copy; kept until changed.
  void set_learning_rates(const std::vector<float>& rates);
  // One update of every model from the current gradients.
  void step();
  // Fresh moments (model m's slice of every parameter) and step count 0 for one model / all.
  void reset_model(int m);
  void reset();
  std::vector<std::int64_t> steps() const;  // per-model step counts (a host copy: synchronises)
  int models() const { return models_; }
  ParameterSet& parameters() { return parameters_; }
  const kernels::AdamConfig& config() const { return config_; }
  const Tensor& first_moment() const { return first_moment_; }    // flat, like the parameters
  const Tensor& second_moment() const { return second_moment_; }

 private:
  ParameterSet& parameters_;
  int models_;
  kernels::AdamConfig config_;
  Tensor first_moment_, second_moment_;
  Tensor learning_rates_;        // [M] float32
  Tensor coefficients_;          // [M, kAdamCoefficientFields], written by each step
  kernels::Indices steps_;       // [M]
  kernels::Indices segments_;    // (offset, per-model size) per non-empty parameter
  std::vector<std::int64_t> host_segments_;  // the same table, for reset_model
};

}  // namespace latf::autodiff
