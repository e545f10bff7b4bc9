// One factory per op family of kernels/. Every tensor an op reads or writes is made here, once,
// so a timed call is the kernel call alone: outputs and gradient buffers are preallocated, and
// gradients simply keep accumulating across calls (their values do not matter for timing).
// The PyTorch twin (bench/peer/twin_ops.py) builds the same operands with the same shapes.
#include "bench/op_cases.hpp"

#include <memory>

#include "autodiff/ops.hpp"
#include "bench/bench_support.hpp"
#include "kernels/adam.hpp"
#include "kernels/coupling.hpp"
#include "kernels/cross_entropy.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/gaussian.hpp"
#include "kernels/linear.hpp"
#include "kernels/mlp.hpp"
#include "kernels/reduction.hpp"
#include "kernels/tilted.hpp"

namespace latf::bench {

namespace {

using namespace latf::kernels;

constexpr int kDim = 2;          // latent dimension d
constexpr int kHidden = 16;      // conditioner and decoder width h
constexpr int kStates = 10;      // K: decoder classes and VampPrior components
constexpr float kTau = 3.f;      // tilted prior τ (three-hole example)
constexpr float kSlope = kConditionerSlope;

Tensor zeros_like(const Tensor& t) { return Tensor::zeros(t.shape(), t.device(), t.dtype()); }

Runner make_linear(const Device& dev, std::int64_t n) {
  Tensor x = random_normal({n, kHidden}, dev, 1), w = random_normal({kHidden, kHidden}, dev, 2, 0, 0.25),
         b = random_normal({kHidden}, dev, 3, 0, 0.1), dy = random_normal({n, kHidden}, dev, 4);
  Tensor y = Tensor::empty({n, kHidden}, dev), dx = zeros_like(x), dw = zeros_like(w), db = zeros_like(b);
  auto forward = [=]() mutable { linear_forward(x, w, b, Activation::LeakyReLU, kSlope, y); };
  return {forward, [=]() mutable {
            forward();
            linear_backward(x, w, y, dy, Activation::LeakyReLU, kSlope, dx, dw, db);
          }};
}

Runner make_mlp(const Device& dev, std::int64_t n) {
  const MlpShape shape{kDim, kHidden, kDim};
  Tensor x = random_normal({n, kDim}, dev, 1), params = random_normal({shape.size()}, dev, 2, 0, 0.25),
         dy = random_normal({n, kDim}, dev, 3);
  Tensor y = Tensor::empty({n, kDim}, dev), dx = zeros_like(x), dparams = zeros_like(params);
  auto forward = [=]() mutable { mlp_forward(x, params, shape, kSlope, y); };
  return {forward, [=]() mutable {
            forward();
            mlp_backward(x, params, shape, kSlope, dy, dx, dparams);
          }};
}

Runner make_coupling(const Device& dev, std::int64_t n) {
  CouplingSpec spec;
  spec.dim = kDim;
  spec.hidden = kHidden;
  spec.direction = CouplingDirection::Normalizing;  // the direction training runs
  const std::int64_t size = spec.net().size();
  Tensor x = random_normal({n, kDim}, dev, 1), mask = Tensor::from_vector({1.f, 0.f}, {kDim}, dev),
         scale = random_normal({size}, dev, 2, 0, 0.25), shift = random_normal({size}, dev, 3, 0, 0.25),
         a = random_normal({kDim}, dev, 4, 0, 0.5), dy = random_normal({n, kDim}, dev, 5),
         dlog_det = random_normal({n}, dev, 6);
  Tensor y = Tensor::empty({n, kDim}, dev), log_det = Tensor::empty({n}, dev), dx = zeros_like(x),
         dscale = zeros_like(scale), dshift = zeros_like(shift), da = zeros_like(a);
  auto forward = [=]() mutable { coupling_forward(x, mask, scale, shift, a, spec, y, log_det); };
  return {forward, [=]() mutable {
            forward();
            coupling_backward(x, mask, scale, shift, a, spec, dy, dlog_det, dx, dscale, dshift, da);
          }};
}

Runner make_tilted_density(const Device& dev, std::int64_t n) {
  Tensor z = random_normal({n, kDim}, dev, 1, 0, 3), b = random_uniform({n}, dev, 2, 0.4, 1.0),
         c = Tensor::full({n}, tilted_log_normalizer(kTau, kDim, 1.0), dev), dout = random_normal({n}, dev, 3);
  Tensor out = Tensor::empty({n}, dev), dz = zeros_like(z);
  auto forward = [=]() mutable { tilted_log_density_forward(z, b, c, kTau, out); };
  return {forward, [=]() mutable {
            forward();
            tilted_log_density_backward(z, b, kTau, dout, dz);
          }};
}

Runner make_tilted_sample(const Device& dev, std::int64_t n) {
  Tensor z = Tensor::empty({n, kDim}, dev);
  std::uint64_t stream = 0;  // fresh draws each call, as a sampler is used
  return {[=]() mutable { tilted_sample(z, kTau, 1.0, 7, stream++); }, {}};
}

Runner make_log_softmax(const Device& dev, std::int64_t n) {
  Tensor logits = random_normal({n, kStates}, dev, 1, 0, 2), dout = random_normal({n, kStates}, dev, 2);
  Tensor out = Tensor::empty({n, kStates}, dev), dlogits = zeros_like(logits);
  auto forward = [=]() mutable { log_softmax_forward(logits, out); };
  return {forward, [=]() mutable {
            forward();
            log_softmax_backward(out, dout, dlogits);
          }};
}

// One-hot future labels, as the SPIB reconstruction term uses them.
Tensor one_hot_targets(std::int64_t n, const Device& dev) {
  Tensor draws = random_uniform({n}, Device::cpu(), 9, 0, kStates);
  Tensor host = Tensor::zeros({n, kStates});
  const float* u = draws.data<float>();
  float* y = host.data<float>();
  for (std::int64_t i = 0; i < n; ++i) y[i * kStates + std::min(kStates - 1, static_cast<int>(u[i]))] = 1.f;
  return host.to(dev);
}

Runner make_cross_entropy(const Device& dev, std::int64_t n) {
  Tensor logits = random_normal({n, kStates}, dev, 1, 0, 2), targets = one_hot_targets(n, dev),
         weights = random_uniform({n}, dev, 2, 0.5, 1.5), dloss = Tensor::full({1}, 1.0, dev);
  Tensor loss = Tensor::empty({1}, dev), dlogits = zeros_like(logits);
  auto forward = [=]() mutable { weighted_cross_entropy_forward(logits, targets, weights, loss); };
  return {forward, [=]() mutable {
            forward();
            weighted_cross_entropy_backward(logits, targets, weights, dloss, dlogits);
          }};
}

Runner make_reparameterize(const Device& dev, std::int64_t n) {
  Tensor mean = random_normal({n, kDim}, dev, 1), log_variance = Tensor::full({1}, -1.0, dev),
         noise = random_normal({n, kDim}, dev, 2), du = random_normal({n, kDim}, dev, 3);
  Tensor u = Tensor::empty({n, kDim}, dev), dmean = zeros_like(mean), dlv = zeros_like(log_variance);
  auto forward = [=]() mutable { reparameterize_forward(mean, log_variance, noise, u); };
  return {forward, [=]() mutable {
            forward();
            reparameterize_backward(log_variance, noise, du, dmean, dlv);
          }};
}

Runner make_gaussian_density(const Device& dev, std::int64_t n) {
  Tensor u = random_normal({n, kDim}, dev, 1), mean = random_normal({n, kDim}, dev, 2),
         log_variance = Tensor::full({1}, -1.0, dev), dout = random_normal({n}, dev, 3);
  Tensor out = Tensor::empty({n}, dev), du = zeros_like(u), dmean = zeros_like(mean), dlv = zeros_like(log_variance);
  auto forward = [=]() mutable { gaussian_log_density_forward(u, mean, log_variance, out); };
  return {forward, [=]() mutable {
            forward();
            gaussian_log_density_backward(u, mean, log_variance, dout, du, dmean, dlv);
          }};
}

Runner make_vamp_density(const Device& dev, std::int64_t n) {
  Tensor u = random_normal({n, kDim}, dev, 1), means = random_normal({kStates, kDim}, dev, 2, 0, 2),
         log_variance = Tensor::full({1}, -1.0, dev), logits = random_normal({kStates}, dev, 3),
         dout = random_normal({n}, dev, 4);
  Tensor out = Tensor::empty({n}, dev), du = zeros_like(u), dmeans = zeros_like(means),
         dlv = zeros_like(log_variance), dlogits = zeros_like(logits);
  auto forward = [=]() mutable { vamp_log_density_forward(u, means, log_variance, logits, out); };
  return {forward, [=]() mutable {
            forward();
            vamp_log_density_backward(u, means, log_variance, logits, dout, du, dmeans, dlv, dlogits);
          }};
}

Runner make_weighted_mean(const Device& dev, std::int64_t n) {
  Tensor x = random_normal({n}, dev, 1), w = random_uniform({n}, dev, 2, 0.5, 1.5), dout = Tensor::full({1}, 1.0, dev);
  Tensor out = Tensor::empty({1}, dev), dx = zeros_like(x), no_weight_grad;
  const double scale = 1.0 / static_cast<double>(n);
  auto forward = [=]() mutable { weighted_sum_forward(x, w, scale, out); };
  return {forward, [=]() mutable {
            forward();
            weighted_sum_backward(x, w, scale, dout, dx, no_weight_grad);
          }};
}

// axpby on [N, d] latent-sized tensors; its backward is two scaled accumulations.
Runner make_axpby(const Device& dev, std::int64_t n) {
  Tensor a = random_normal({n, kDim}, dev, 1), b = random_normal({n, kDim}, dev, 2),
         dout = random_normal({n, kDim}, dev, 3);
  Tensor out = Tensor::empty({n, kDim}, dev), da = zeros_like(a), db = zeros_like(b);
  auto forward = [=]() mutable { axpby(0.5, a, -2.0, b, out); };
  return {forward, [=]() mutable {
            forward();
            accumulate_scaled(0.5, dout, da);
            accumulate_scaled(-2.0, dout, db);
          }};
}

// One Adam update of a flat buffer of n parameters (the batch-size sweep doubles as a
// parameter-count sweep here; LaTF's own models hold ~10⁴ parameters).
Runner make_adam(const Device& dev, std::int64_t n) {
  Tensor params = random_normal({n}, dev, 1), grads = random_normal({n}, dev, 2);
  Tensor m = Tensor::zeros({n}, dev), v = Tensor::zeros({n}, dev);
  const AdamConfig config{};
  std::int64_t step = 0;
  return {[=]() mutable { adam_step(params, grads, m, v, config, ++step); }, {}};
}

// The SPIB encoder D = 2 → w → w → d = 1 with ReLU hidden layers, on the tape: one fused op per
// direction (autodiff::mlp_layers) or its chain of three linear ops, the same weights and input
// (data: no input gradient). Forward alone records nothing; forward + backward starts from a
// fixed output gradient.
constexpr int kEncoderWidth = 16, kLatent = 1;

Runner make_spib_encoder(const Device& dev, std::int64_t n, bool fused_op) {
  struct Encoder {
    autodiff::Tape tape;
    std::vector<Tensor> values, grads;
    Tensor x, dy;
  };
  auto e = std::make_shared<Encoder>();
  const Shape shapes[] = {{kEncoderWidth, kDim}, {kEncoderWidth}, {kEncoderWidth, kEncoderWidth},
                          {kEncoderWidth},       {kLatent, kEncoderWidth}, {kLatent}};
  for (int k = 0; k < 6; ++k) {
    e->values.push_back(random_normal(shapes[k], dev, 10 + k, 0, 0.25));
    e->grads.push_back(zeros_like(e->values.back()));
  }
  e->x = random_normal({n, kDim}, dev, 1);
  e->dy = random_normal({n, kLatent}, dev, 2);
  auto run = [e, fused_op]() {
    autodiff::Tape& t = e->tape;
    t.clear();
    std::vector<autodiff::Var> p;
    for (int k = 0; k < 6; ++k) p.push_back(t.parameter(e->values[k], e->grads[k]));
    const autodiff::Var x = t.constant(e->x);
    if (fused_op) return autodiff::mlp_layers(t, x, p[0], p[1], p[2], p[3], p[4], p[5], 0.f);
    autodiff::Var h = autodiff::linear(t, x, p[0], p[1], Activation::ReLU);
    h = autodiff::linear(t, h, p[2], p[3], Activation::ReLU);
    return autodiff::linear(t, h, p[4], p[5]);
  };
  return {[=] {
            autodiff::NoGradGuard no_grad(e->tape);
            run();
          },
          [=] { e->tape.backward(run(), e->dy); }};
}

Runner make_spib_encoder_fused(const Device& dev, std::int64_t n) { return make_spib_encoder(dev, n, true); }
Runner make_spib_encoder_chain(const Device& dev, std::int64_t n) { return make_spib_encoder(dev, n, false); }

}  // namespace

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = {
      {"linear", make_linear},
      {"mlp", make_mlp},
      {"coupling", make_coupling},
      {"tilted_density", make_tilted_density},
      {"tilted_sample", make_tilted_sample},
      {"log_softmax", make_log_softmax},
      {"cross_entropy", make_cross_entropy},
      {"reparameterize", make_reparameterize},
      {"gaussian_density", make_gaussian_density},
      {"vamp_density", make_vamp_density},
      {"weighted_mean", make_weighted_mean},
      {"axpby", make_axpby},
      {"adam", make_adam},
      {"spib_encoder_chain", make_spib_encoder_chain},
      {"spib_encoder_fused", make_spib_encoder_fused},
      {"coupling_stack", make_coupling_stack},
      {"coupling_stack_fused", make_coupling_stack_fused},
  };
  return cases;
}

}  // namespace latf::bench
