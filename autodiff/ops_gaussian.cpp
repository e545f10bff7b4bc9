#include "autodiff/ops.hpp"
#include "kernels/gaussian.hpp"

namespace latf::autodiff {

namespace {

// Per-row output shape of u [N, d] → [N], or stacked u [M, N, d] → [M, N]; [0] when the rank is
// wrong (the kernel then names the operand in its error).
Shape rows_of(const Tensor& t) {
  if (t.rank() == 3) return {t.dim(0), t.dim(1)};
  return {t.rank() == 2 ? t.dim(0) : 0};
}

// inputs: mean, log_variance, noise (a constant: the rule never asks for its gradient).
void reparameterize_backward_rule(Tape& tape, const Node& node) {
  Tensor dmean = tape.gradient_sink(node.inputs[0]);
  Tensor dlog_variance = tape.gradient_sink(node.inputs[1]);
  kernels::reparameterize_backward(tape.value(node.inputs[1]), tape.value(node.inputs[2]), tape.grad(node.outputs[0]),
                                   dmean, dlog_variance);
}

void gaussian_log_density_backward_rule(Tape& tape, const Node& node) {
  Tensor du = tape.gradient_sink(node.inputs[0]);
  Tensor dmean = tape.gradient_sink(node.inputs[1]);
  Tensor dlog_variance = tape.gradient_sink(node.inputs[2]);
  kernels::gaussian_log_density_backward(tape.value(node.inputs[0]), tape.value(node.inputs[1]),
                                         tape.value(node.inputs[2]), tape.grad(node.outputs[0]), du, dmean,
                                         dlog_variance);
}

void vamp_log_density_backward_rule(Tape& tape, const Node& node) {
  Tensor du = tape.gradient_sink(node.inputs[0]);
  Tensor dmeans = tape.gradient_sink(node.inputs[1]);
  Tensor dlog_variance = tape.gradient_sink(node.inputs[2]);
  Tensor dlogits = tape.gradient_sink(node.inputs[3]);
  kernels::vamp_log_density_backward(tape.value(node.inputs[0]), tape.value(node.inputs[1]),
                                     tape.value(node.inputs[2]), tape.value(node.inputs[3]),
                                     tape.grad(node.outputs[0]), du, dmeans, dlog_variance, dlogits);
}

}  // namespace

Var reparameterize(Tape& tape, Var mean, Var log_variance, Var noise) {
  const Tensor& mv = tape.value(mean);
  Tensor u = Tensor::empty(mv.shape(), mv.device(), mv.dtype());
  kernels::reparameterize_forward(mv, tape.value(log_variance), tape.value(noise), u);
  const bool record = tape.should_record({mean, log_variance});
  Var out = tape.output(u, record, "output of reparameterize");
  if (record) {
    Node node;
    node.name = "reparameterize";
    node.backward = reparameterize_backward_rule;
    node.inputs = {mean, log_variance, noise};
    node.outputs = {out};
    tape.record(node);
  }
  return out;
}

Var gaussian_log_density(Tape& tape, Var u, Var mean, Var log_variance) {
  const Tensor& uv = tape.value(u);
  Tensor density = Tensor::empty(rows_of(uv), uv.device(), uv.dtype());
  kernels::gaussian_log_density_forward(uv, tape.value(mean), tape.value(log_variance), density);
  const bool record = tape.should_record({u, mean, log_variance});
  Var out = tape.output(density, record, "output of gaussian_log_density");
  if (record) {
    Node node;
    node.name = "gaussian_log_density";
    node.backward = gaussian_log_density_backward_rule;
    node.inputs = {u, mean, log_variance};
    node.outputs = {out};
    tape.record(node);
  }
  return out;
}

Var vamp_log_density(Tape& tape, Var u, Var means, Var log_variance, Var mixture_logits) {
  const Tensor& uv = tape.value(u);
  Tensor density = Tensor::empty(rows_of(uv), uv.device(), uv.dtype());
  kernels::vamp_log_density_forward(uv, tape.value(means), tape.value(log_variance), tape.value(mixture_logits),
                                    density);
  const bool record = tape.should_record({u, means, log_variance, mixture_logits});
  Var out = tape.output(density, record, "output of vamp_log_density");
  if (record) {
    Node node;
    node.name = "vamp_log_density";
    node.backward = vamp_log_density_backward_rule;
    node.inputs = {u, means, log_variance, mixture_logits};
    node.outputs = {out};
    tape.record(node);
  }
  return out;
}

}  // namespace latf::autodiff
