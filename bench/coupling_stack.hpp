#pragma once
// The headline benchmark: the normalizing flow F = g₁⁻¹ ∘ … ∘ g_L⁻¹ of LaTF training
// (METHOD.md §4, three-hole example: L = 10, d = 2, h = 16), recorded on an autodiff tape,
// reduced to a scalar that touches every output, and differentiated into a flat gradient buffer.
#include <cstdint>
#include <string>
#include <vector>

#include "autodiff/optimizer.hpp"
#include "autodiff/tape.hpp"
#include "kernels/coupling.hpp"

namespace latf::bench {

class CouplingStack {
 public:
  static constexpr int kLayers = 10, kDim = 2, kHidden = 16;

  // Random weights and a ≠ 0 (a = 0, the training init, would make every layer a pure shift and
  // hide the scale path from the timing). Masks alternate [1,0], [0,1], … .
  explicit CouplingStack(const Device& device);

  struct Outputs {
    autodiff::Var u, z, log_det, loss;  // u, z [N,d], Σ_l log|det| [N], loss [1]
  };
  // Records u → z on the tape. loss = mean_i(Σ_l log_det_l,i) + mean_(i,j)(z_ij): every output
  // feeds it, so backward runs through every layer and every parameter.
  Outputs forward(autodiff::Tape& tape, const Tensor& u);
  // One training step without the optimizer: zero the gradients, record, backward.
  void step(autodiff::Tape& tape, const Tensor& u);

  const autodiff::ParameterSet& parameters() const { return parameters_; }
  // Per layer, in this order: scale-net params, shift-net params (MlpShape packing), a [d].
  static kernels::CouplingSpec spec();

 private:
  autodiff::ParameterSet parameters_;
  std::vector<Tensor> masks_;
};

// Writes the inputs, weights and results of one step at `batch` rows as raw little-endian
// float32 files plus a meta.json, for bench/peer/check_twin.py to replay in PyTorch.
void dump_coupling_stack(const std::string& directory, std::int64_t batch);

}  // namespace latf::bench
