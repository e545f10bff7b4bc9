#include "models/realnvp.hpp"

#include <cmath>

#include "autodiff/ops.hpp"
#include "engine/error.hpp"
#include "engine/random_fill.hpp"
#include "kernels/coupling_stack.hpp"
#include "kernels/coupling_math.hpp"
#include "models/layers.hpp"

namespace latf::models {

using autodiff::Tape;
using autodiff::Var;
using kernels::CouplingDirection;

std::vector<float> default_mask(int dim, int layer) {
  std::vector<float> mask(dim, 0.f);
  if (dim == 1) return mask;
  const int half = dim / 2;
  for (int j = 0; j < dim; ++j) mask[j] = (layer % 2 == 0) == (j < half) ? 1.f : 0.f;
  return mask;
}

RealNvp::RealNvp(int dim, const FlowConfig& config, const Device& device, Uninitialised stack)
    : dim_(dim), models_(stack.models), device_(device), config_(config) {
  const int models = stack.models;
  LATF_REQUIRE(dim >= 1, "flow dimension: expected ≥ 1, got ", dim);
  LATF_REQUIRE(config.layers >= 0, "flow.layers: expected ≥ 0, got ", config.layers);
  LATF_REQUIRE(models >= 0, "flow models: expected ≥ 0, got ", models);
  const kernels::MlpShape net{dim, config.hidden, dim};
  for (int l = 0; l < config.layers; ++l) {
    Layer layer;
    const std::string prefix = "flow." + std::to_string(l);
    layer.scale = params_.declare(prefix + ".scale_net", stacked_shape({net.size()}, models));
    layer.shift = params_.declare(prefix + ".shift_net", stacked_shape({net.size()}, models));
    layer.a = params_.declare(prefix + ".a", stacked_shape({dim}, models));
    layer.mask_values = default_mask(dim, l);
    layer.mask = Tensor::from_vector(layer.mask_values, {dim}, device);
    layers_.push_back(layer);
  }
  params_.allocate(device);
  std::vector<float> masks;
  for (const Layer& layer : layers_) masks.insert(masks.end(), layer.mask_values.begin(), layer.mask_values.end());
  if (!layers_.empty()) masks_ = Tensor::from_vector(masks, {config.layers, dim}, device);
  // The fused stack pays off where launches cost: on CUDA (its kernels take hidden 16, 32, 64).
  // On the CPU the layer-by-layer ops run Eigen's matrix products and are ~5× faster.
  const int h = config.hidden;
  fused_ = device.is_cuda() && config.layers >= 1 && config.layers <= kernels::kCouplingStackMaxLayers &&
           dim <= kernels::kCouplingMaxDim && (h == 16 || h == 32 || h == 64);
}

void RealNvp::set_fused(bool on) {
  LATF_REQUIRE(!on || (layers() >= 1 && layers() <= kernels::kCouplingStackMaxLayers && dim_ <= kernels::kCouplingMaxDim),
               "fused flow: needs 1 to ", kernels::kCouplingStackMaxLayers, " layers and d ≤ ", kernels::kCouplingMaxDim,
               ", got ", layers(), " layers, d = ", dim_);
  fused_ = on;
}

RealNvp::RealNvp(int dim, const FlowConfig& config, const Device& device, std::uint64_t seed)
    : RealNvp(dim, config, device, Uninitialised{0}) {
  const kernels::MlpShape net{dim, config.hidden, dim};
  // Conditioner weights as nn.Linear's default, per packed block; a = 0 and a zero last shift
  // layer make the new flow the identity map.
  for (int l = 0; l < config.layers; ++l) {
    for (int which : {layers_[l].scale, layers_[l].shift}) {
      Tensor packed = Tensor::empty({net.size()});
      const std::int64_t blocks[3][3] = {{net.weight1(), net.bias2() - net.weight1(), dim},
                                         {net.weight2(), net.weight3() - net.weight2(), config.hidden},
                                         {net.weight3(), net.size() - net.weight3(), config.hidden}};
      for (int b = 0; b < 3; ++b) {
        const double bound = 1.0 / std::sqrt(static_cast<double>(blocks[b][2]));
        Tensor part = packed.view(blocks[b][0], {blocks[b][1]});
        fill_uniform(part, seed, 1000 + 16 * l + 4 * (which == layers_[l].shift) + b, -bound, bound);
      }
      if (which == layers_[l].shift) packed.view(net.weight3(), {net.size() - net.weight3()}).zero();
      params_.value(which).copy_from(packed.to(device));
    }
  }
}

FlowOutputs RealNvp::run(Tape& tape, Var x, CouplingDirection direction) const {
  kernels::CouplingSpec spec;
  spec.dim = dim_;
  spec.hidden = config_.hidden;
  spec.scale_clamp = static_cast<float>(config_.scale_clamp);
  spec.direction = direction;
  FlowOutputs result{x, Var{}};
  const int count = layers();
  if (count > 0 && fused_) {  // the whole stack in one op (kernels/coupling_stack.hpp)
    const auto out = autodiff::coupling_stack(tape, x, tape.constant(masks_),
                                              tape.parameter(params_.flat_values(), params_.flat_grads()), spec, count);
    return FlowOutputs{out.y, out.log_det};
  }
  for (int i = 0; i < count; ++i) {
    // G applies g_1 … g_L; F = G⁻¹ applies g_L⁻¹ … g_1⁻¹.
    const Layer& layer = layers_[direction == CouplingDirection::Generative ? i : count - 1 - i];
    const auto out = autodiff::coupling(tape, result.out, tape.constant(layer.mask),
                                        bind(tape, params_, layer.scale), bind(tape, params_, layer.shift),
                                        bind(tape, params_, layer.a), spec);
    result.out = out.y;
    result.log_det = result.log_det.valid() ? autodiff::axpby(tape, 1.0, result.log_det, 1.0, out.log_det) : out.log_det;
  }
  return result;
}

FlowOutputs RealNvp::normalize(Tape& tape, Var u) const { return run(tape, u, CouplingDirection::Normalizing); }

FlowOutputs RealNvp::generate(Tape& tape, Var z) const { return run(tape, z, CouplingDirection::Generative); }

RealNvp RealNvp::stack(const std::vector<const RealNvp*>& singles) {
  LATF_REQUIRE(!singles.empty(), "flow stack: expected at least one flow");
  const RealNvp& first = *singles.front();
  LATF_REQUIRE(first.models_ == 0, "flow stack: flow 0 is itself stacked");
  const int count = static_cast<int>(singles.size());
  RealNvp stacked(first.dim_, first.config_, first.device_, Uninitialised{count});
  for (int m = 0; m < count; ++m) {
    const RealNvp& f = *singles[m];
    LATF_REQUIRE(f.models_ == 0 && f.dim_ == first.dim_ && f.layers() == first.layers() &&
                     f.config_.hidden == first.config_.hidden && f.config_.scale_clamp == first.config_.scale_clamp,
                 "flow stack: flow ", m, " (d = ", f.dim_, ", ", f.layers(), " layers, hidden ", f.config_.hidden,
                 ", scale_clamp ", f.config_.scale_clamp, ") differs from flow 0");
    copy_into_model(f.params_, stacked.params_, m);
  }
  return stacked;
}

RealNvp RealNvp::model(int m) const {
  LATF_REQUIRE(models_ > 0, "RealNvp::model: not a stacked flow");
  RealNvp single(dim_, config_, device_, Uninitialised{0});
  copy_from_model(params_, m, single.params_);
  return single;
}

}  // namespace latf::models
