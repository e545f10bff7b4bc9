#include "autodiff/ops.hpp"
#include "kernels/cross_entropy.hpp"

namespace latf::autodiff {

namespace {

void log_softmax_backward_rule(Tape& tape, const Node& node) {
  Tensor dlogits = tape.gradient_sink(node.inputs[0]);
  kernels::log_softmax_backward(tape.value(node.outputs[0]), tape.grad(node.outputs[0]), dlogits);
}

void weighted_cross_entropy_backward_rule(Tape& tape, const Node& node) {
  Tensor dlogits = tape.gradient_sink(node.inputs[0]);
  const Tensor none;
  const Tensor& weights = node.inputs[2].valid() ? tape.value(node.inputs[2]) : none;
  kernels::weighted_cross_entropy_backward(tape.value(node.inputs[0]), tape.value(node.inputs[1]), weights,
                                           tape.grad(node.outputs[0]), dlogits);
}

}  // namespace

Var log_softmax(Tape& tape, Var logits) {
  const Tensor& x = tape.value(logits);
  Tensor out = Tensor::empty(x.shape(), x.device(), x.dtype());
  kernels::log_softmax_forward(x, out);
  const bool record = tape.should_record({logits});
  Var result = tape.output(out, record, "output of log_softmax");
  if (record) {
    Node node;
    node.name = "log_softmax";
    node.backward = log_softmax_backward_rule;
    node.inputs = {logits};
    node.outputs = {result};
    tape.record(node);
  }
  return result;
}

// Targets and weights are data: only the logits are differentiated, so the node is recorded only
// when the logits need a gradient.
Var weighted_cross_entropy(Tape& tape, Var logits, Var targets, Var weights) {
  const Tensor& x = tape.value(logits);
  const Tensor none;
  const Tensor& w = weights.valid() ? tape.value(weights) : none;
  // One loss per model: [M] for stacked logits [M, N, K], [1] otherwise.
  Tensor loss = Tensor::empty({x.rank() == 3 ? x.dim(0) : 1}, x.device(), x.dtype());
  kernels::weighted_cross_entropy_forward(x, tape.value(targets), w, loss);
  const bool record = tape.should_record({logits});
  Var result = tape.output(loss, record, "output of weighted_cross_entropy");
  if (record) {
    Node node;
    node.name = "weighted_cross_entropy";
    node.backward = weighted_cross_entropy_backward_rule;
    node.inputs = {logits, targets, weights};
    node.outputs = {result};
    tape.record(node);
  }
  return result;
}

}  // namespace latf::autodiff
