#include "autodiff/ops.hpp"
#include "kernels/prior_terms.hpp"

namespace latf::autodiff {

namespace {

// The fused terms treat the weights as data (a node holds six inputs, the VampPrior term
// already needs them all): a weight that wants a gradient would silently get none.
Tensor data_weights(const Tape& tape, Var weights, const char* op) {
  if (!weights.valid()) return Tensor();
  LATF_REQUIRE(!tape.requires_grad(weights), op,
               " weights: expected data (a value that needs no gradient); use the unfused chain to "
               "differentiate the weights");
  return tape.value(weights);
}

Tensor value_or_none(const Tape& tape, Var v) { return v.valid() ? tape.value(v) : Tensor(); }

// One loss per model: [M] for a stacked rows operand (rank 3), [1] otherwise.
Shape loss_shape(const Tensor& rows) { return {rows.rank() == 3 ? rows.dim(0) : 1}; }

// inputs: u, mean, log_variance, means, component_log_variance, mixture_logits; saved[0]: weights.
void vamp_kl_term_backward_rule(Tape& tape, const Node& node) {
  Tensor du = tape.gradient_sink(node.inputs[0]);
  Tensor dmean = tape.gradient_sink(node.inputs[1]);
  Tensor dlog_variance = tape.gradient_sink(node.inputs[2]);
  Tensor dmeans = tape.gradient_sink(node.inputs[3]);
  Tensor dcomponent_log_variance = tape.gradient_sink(node.inputs[4]);
  Tensor dmixture_logits = tape.gradient_sink(node.inputs[5]);
  kernels::vamp_kl_term_backward(tape.value(node.inputs[0]), tape.value(node.inputs[1]), tape.value(node.inputs[2]),
                                 tape.value(node.inputs[3]), tape.value(node.inputs[4]), tape.value(node.inputs[5]),
                                 node.saved[0], tape.grad(node.outputs[0]), du, dmean, dlog_variance, dmeans,
                                 dcomponent_log_variance, dmixture_logits);
}

// inputs: z, log_det (may be invalid), inverse_temperature; saved[0]: weights, saved[1]: the stack's
// taus (undefined for a single tau, which rides in reals[0]).
void tilted_nll_term_backward_rule(Tape& tape, const Node& node) {
  Tensor dz = tape.gradient_sink(node.inputs[0]);
  Tensor dlog_det = tape.gradient_sink(node.inputs[1]);
  const Tensor log_det = value_or_none(tape, node.inputs[1]);
  const Tensor& z = tape.value(node.inputs[0]);
  const Tensor& b = tape.value(node.inputs[2]);
  if (node.saved[1].defined()) {
    kernels::tilted_nll_term_backward(z, log_det, b, node.saved[1], node.saved[0], tape.grad(node.outputs[0]), dz,
                                      dlog_det);
  } else {
    kernels::tilted_nll_term_backward(z, log_det, b, static_cast<float>(node.reals[0]), node.saved[0],
                                      tape.grad(node.outputs[0]), dz, dlog_det);
  }
}

Var record_tilted(Tape& tape, Var z, Var log_det, Var inverse_temperature, const Tensor& loss, const Tensor& weights,
                  float tau, const Tensor& taus) {
  const bool record = tape.should_record({z, log_det});
  Var out = tape.output(loss, record, "output of tilted_nll_term");
  if (record) {
    Node node;
    node.name = taus.defined() ? "tilted_nll_term (stacked)" : "tilted_nll_term";
    node.backward = tilted_nll_term_backward_rule;
    node.inputs = {z, log_det, inverse_temperature};
    node.outputs = {out};
    node.saved[0] = weights;
    node.saved[1] = taus;
    node.reals[0] = tau;
    tape.record(node);
  }
  return out;
}

}  // namespace

Var vamp_kl_term(Tape& tape, Var u, Var mean, Var log_variance, Var means, Var component_log_variance,
                 Var mixture_logits, Var weights) {
  const Tensor w = data_weights(tape, weights, "vamp_kl_term");
  const Tensor& uv = tape.value(u);
  Tensor loss = Tensor::empty(loss_shape(uv), uv.device(), uv.dtype());
  kernels::vamp_kl_term_forward(uv, tape.value(mean), tape.value(log_variance), tape.value(means),
                                tape.value(component_log_variance), tape.value(mixture_logits), w, loss);
  const bool record = tape.should_record({u, mean, log_variance, means, component_log_variance, mixture_logits});
  Var out = tape.output(loss, record, "output of vamp_kl_term");
  if (record) {
    Node node;
    node.name = "vamp_kl_term";
    node.backward = vamp_kl_term_backward_rule;
    node.inputs = {u, mean, log_variance, means, component_log_variance, mixture_logits};
    node.outputs = {out};
    node.saved[0] = w;
    tape.record(node);
  }
  return out;
}

Var tilted_nll_term(Tape& tape, Var z, Var log_det, Var inverse_temperature, float tau, Var weights) {
  const Tensor w = data_weights(tape, weights, "tilted_nll_term");
  const Tensor& zv = tape.value(z);
  Tensor loss = Tensor::empty(loss_shape(zv), zv.device(), zv.dtype());
  kernels::tilted_nll_term_forward(zv, value_or_none(tape, log_det), tape.value(inverse_temperature), tau, w, loss);
  return record_tilted(tape, z, log_det, inverse_temperature, loss, w, tau, Tensor());
}

Var tilted_nll_term(Tape& tape, Var z, Var log_det, Var inverse_temperature, const Tensor& taus, Var weights) {
  const Tensor w = data_weights(tape, weights, "tilted_nll_term");
  const Tensor& zv = tape.value(z);
  Tensor loss = Tensor::empty(loss_shape(zv), zv.device(), zv.dtype());
  kernels::tilted_nll_term_forward(zv, value_or_none(tape, log_det), tape.value(inverse_temperature), taus, w, loss);
  return record_tilted(tape, z, log_det, inverse_temperature, loss, w, 0.f, taus);
}

}  // namespace latf::autodiff
