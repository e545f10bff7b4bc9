#pragma once
// The SPIB part of LaTF (METHOD.md §3): encoder mean μ(x) (linear or nonlinear), one learned
// scalar log σ², decoder q(k | u) over the current K states, and the VampPrior (one learned
// pseudo-input per state, learned mixture logits). All parameters live in one ParameterSet.
#include <vector>

#include "autodiff/optimizer.hpp"
#include "models/config.hpp"
#include "models/layers.hpp"

namespace latf::models {

struct SpibShape {
  int inputs = 0;  // D
  int states = 0;  // K
  SpibConfig config;
  int models = 0;  // 0: one model; M ≥ 1: M stacked models, every parameter [M, ...] (autodiff/ops.hpp)
};

// The logit bias of a dead state in a stacked model (below). Finite, so that NaN checks stay
// quiet, and so negative that exp(logit − max) is exactly 0: the state takes no probability,
// no prior weight and no gradient.
constexpr float kDeadStateLogit = -1e30f;

class SpibModel {
 public:
  SpibModel(const SpibShape& shape, const Device& device, std::uint64_t seed);

  const SpibShape& shape() const { return shape_; }
  int states() const { return shape_.states; }
  autodiff::ParameterSet& parameters() { return params_; }
  const autodiff::ParameterSet& parameters() const { return params_; }

  struct Encoding {
    autodiff::Var mean;          // [B, d]
    autodiff::Var log_variance;  // [1] (scalar option) or [B, d] (input-dependent option)
  };
  Encoding encode(autodiff::Tape& tape, autodiff::Var x) const;
  autodiff::Var encode_mean(autodiff::Tape& tape, autodiff::Var x) const { return encode(tape, x).mean; }
  autodiff::Var decode_logits(autodiff::Tape& tape, autodiff::Var u) const;     // [B, K] (before log-softmax)
  autodiff::Var pseudo_inputs(autodiff::Tape& tape) const;                      // [K, D]
  autodiff::Var mixture_logits(autodiff::Tape& tape) const;                     // [K]

  // Whether the encoder mean and the decoder each run as ONE fused op (autodiff::mlp_layers, one
  // CUDA kernel per direction) or as their chain of three autodiff::linear ops (the oracle).
  // Default: fused on CUDA, the chain on the CPU (Eigen's products are faster there, and CPU
  // training results stay those of the chain). Per net, fusing needs the widths the CUDA kernels
  // take (kernels::mlp_fused_cuda_supported; any on the CPU), and for the encoder a nonlinear
  // encoder without the input-dependent variance head (which reads the hidden layer). Copies made
  // by with_states/stack/model keep the setting; not saved with the model.
  bool fused() const { return fused_; }
  void set_fused(bool on) { fused_ = on; }
  bool encoder_fused() const;
  bool decoder_fused() const;

  // A model over the states in `keep` (old indices, in order): every parameter is copied, the
  // decoder's output rows and the pseudo-inputs of the kept states survive, mixture logits are
  // reset to uniform (METHOD §3 refinement steps 2–3).
  SpibModel with_states(const std::vector<int>& keep) const;
  // Sets pseudo-input k to the given (normalised) frame. Single model only.
  void set_pseudo_input(int state, const float* frame);

  // Stacked models: the forward methods above run all M at once on stacked inputs [M, B, D].
  // Label refinement shrinks models independently, so slot m keeps its live states first and
  // the rest of the K slots dead (decoder row 0 with bias kDeadStateLogit, mixture logit
  // kDeadStateLogit, pseudo-input 0).
  int models() const { return shape_.models; }
  // M = singles.size() stacked copies; every single has this class's single shape.
  static SpibModel stack(const std::vector<const SpibModel*>& singles);
  // Slot m as a single model over its first `live_states` states.
  SpibModel model(int m, int live_states) const;
  // Writes a single model over K' ≤ K states into slot m; the slot's other states become dead.
  void set_model(int m, const SpibModel& single);

 private:
  SpibModel(const SpibShape& shape, const Device& device);  // declared and allocated, not initialised
  // The three linear layers `net` with ReLU hidden layers, as one op.
  autodiff::Var apply_fused(autodiff::Tape& tape, const std::vector<LinearIndices>& net, autodiff::Var x) const;
  bool fusable(const std::vector<LinearIndices>& net) const;
  SpibShape shape_;
  bool fused_ = false;
  autodiff::ParameterSet params_;
  std::vector<LinearIndices> encoder_, decoder_;
  int log_variance_ = -1, pseudo_inputs_ = -1, mixture_logits_ = -1;
  LinearIndices variance_head_;  // input-dependent option only
};

}  // namespace latf::models
