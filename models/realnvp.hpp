#pragma once
// RealNVP flow between the latent space u and the prior space z (METHOD.md §4): L affine
// coupling layers with alternating masks. G = g_L ∘ … ∘ g_1 generates u = G(z); F = G⁻¹
// normalises z = F(u) and is the direction used in training. A new flow is the identity
// (a = 0 and a zero last shift layer), as the flow libraries recommend.
#include <vector>

#include "autodiff/ops.hpp"
#include "autodiff/optimizer.hpp"
#include "models/config.hpp"

namespace latf::models {

struct FlowOutputs {
  autodiff::Var out;      // [B, d]
  autodiff::Var log_det;  // [B]: log|det ∂out/∂in|; invalid Var when there are no layers
};

class RealNvp {
 public:
  RealNvp(int dim, const FlowConfig& config, const Device& device, std::uint64_t seed);

  int dim() const { return dim_; }
  int layers() const { return static_cast<int>(layers_.size()); }
  autodiff::ParameterSet& parameters() { return params_; }
  const autodiff::ParameterSet& parameters() const { return params_; }
  // The mask of layer l (1 = passed through and conditioned on).
  const std::vector<float>& mask(int layer) const { return layers_[layer].mask_values; }

  FlowOutputs normalize(autodiff::Tape& tape, autodiff::Var u) const;  // F: u → z
  FlowOutputs generate(autodiff::Tape& tape, autodiff::Var z) const;   // G: z → u

  // Whether normalize/generate run the whole stack as one fused op (autodiff::coupling_stack) or
  // layer by layer (autodiff::coupling, its oracle). Default: fused on CUDA where its kernels
  // cover the shape, layer by layer on the CPU (faster there). Not saved with the model.
  bool fused() const { return fused_; }
  void set_fused(bool on);

  // Stacked flows (autodiff/ops.hpp): M flows of one architecture, parameters [M, ...], masks
  // shared; normalize/generate then take [M, B, d] and give log-dets [M, B].
  int models() const { return models_; }
  static RealNvp stack(const std::vector<const RealNvp*>& singles);
  RealNvp model(int m) const;  // slot m as a single flow

 private:
  struct Uninitialised {
    int models = 0;
  };
  RealNvp(int dim, const FlowConfig& config, const Device& device, Uninitialised stack);  // declared, zeros
  struct Layer {
    int scale = -1, shift = -1, a = -1;
    std::vector<float> mask_values;
    Tensor mask;  // on the device
  };
  FlowOutputs run(autodiff::Tape& tape, autodiff::Var x, kernels::CouplingDirection direction) const;

  int dim_;
  int models_ = 0;
  bool fused_ = false;
  Tensor masks_;  // [L, d], every layer's mask, for the fused stack
  Device device_;
  FlowConfig config_;
  autodiff::ParameterSet params_;
  std::vector<Layer> layers_;
};

// The default masks: for d = 2 alternately [1,0] and [0,1]; for general d alternately the
// first ⌊d/2⌋ and the last ⌈d/2⌉ coordinates conditioned on; for d = 1 nothing (an affine map).
std::vector<float> default_mask(int dim, int layer);

}  // namespace latf::models
