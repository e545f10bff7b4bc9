#pragma once
// Affine coupling layer of RealNVP (METHOD.md §4), one fused op per direction.
// With mask m ∈ {0,1}^d, conditioner input c = x ⊙ m, scale net s(c), shift net t(c) (both fused
// MLPs d→h→h→d) and the learned per-dimension vector a, the log-scale is s̃ = clamp(s ⊙ a):
//   Generative  (g,  z → u): y = x⊙m + (1−m)⊙(x⊙exp(s̃) + t),   log|det| = +Σ_j (1−m_j) s̃_j
//   Normalizing (g⁻¹, u → z): y = x⊙m + (1−m)⊙(x − t)⊙exp(−s̃),  log|det| = −Σ_j (1−m_j) s̃_j
// so that running Normalizing on the output of Generative returns the input and the two
// log-dets cancel. clamp is the identity (the reference's plain exp scale) when scale_clamp = 0,
// else the soft clamp c·tanh(·/c) that bounds |s̃| < c.
#include "kernels/common.hpp"
#include "kernels/mlp.hpp"

namespace latf::kernels {

enum class CouplingDirection { Generative = 0, Normalizing = 1 };

struct CouplingSpec {
  int dim = 0;                   // d
  int hidden = 16;               // h of both conditioners
  float alpha = kConditionerSlope;
  float scale_clamp = 0.f;       // 0: unbounded exp scale (reference)
  CouplingDirection direction = CouplingDirection::Generative;
  LATF_HD MlpShape net() const { return MlpShape{dim, hidden, dim}; }
};

// Elements of the optional CPU workspace for N rows: the forward stores its conditioner inputs,
// outputs and hidden activations there, so that backward need not recompute them. (The CUDA
// kernels recompute on chip instead and ignore it.)
std::int64_t coupling_workspace_size(std::int64_t rows, const CouplingSpec& spec);
// The same for the model-stacked form: `models` per-model workspaces back to back (model m's at
// m × coupling_workspace_size(rows, spec)).
std::int64_t coupling_workspace_size(std::int64_t models, std::int64_t rows, const CouplingSpec& spec);

// x [N,d], mask [d] (entries 0 or 1), scale_params/shift_params [net().size()], scale_vector a [d]
// → y [N,d], log_det [N]; on the CPU also fills *workspace when given.
// Model-stacked form (autodiff/ops.hpp): x [M,N,d], mask [d] shared by all models, scale/shift
// params [M,size], a [M,d] → y [M,N,d], log_det [M,N]; the workspace is then
// coupling_workspace_size(M, N, spec) long. Model m is computed exactly as the single form.
void coupling_forward(const Tensor& x, const Tensor& mask, const Tensor& scale_params, const Tensor& shift_params,
                      const Tensor& scale_vector, const CouplingSpec& spec, Tensor& y, Tensor& log_det,
                      Tensor* workspace = nullptr);

// dy [N,d] and dlog_det [N] (either may be undefined = zero); accumulates into the defined ones of
// dx, dscale_params, dshift_params, dscale_vector. `workspace`, when given on the CPU, must be
// the one the forward filled from the same x and parameters.
void coupling_backward(const Tensor& x, const Tensor& mask, const Tensor& scale_params, const Tensor& shift_params,
                       const Tensor& scale_vector, const CouplingSpec& spec, const Tensor& dy, const Tensor& dlog_det,
                       Tensor& dx, Tensor& dscale_params, Tensor& dshift_params, Tensor& dscale_vector,
                       const Tensor* workspace = nullptr);

}  // namespace latf::kernels
