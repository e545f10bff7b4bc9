#include "autodiff/ops.hpp"
#include "kernels/reduction.hpp"

namespace latf::autodiff {

namespace {

void weighted_sum_backward_rule(Tape& tape, const Node& node) {
  Tensor dx = tape.gradient_sink(node.inputs[0]);
  Tensor dweights = tape.gradient_sink(node.inputs[1]);
  const Tensor none;
  const Tensor& weights = node.inputs[1].valid() ? tape.value(node.inputs[1]) : none;
  kernels::weighted_sum_backward(tape.value(node.inputs[0]), weights, node.reals[0], tape.grad(node.outputs[0]), dx,
                                 dweights);
}

// scale · Σ w x into `sums` outputs: [1] (one sum of everything) or [M] (one per model slice).
Var scaled_sums(Tape& tape, Var x, Var weights, double scale, std::int64_t sums, const char* name,
                const char* output_name) {
  const Tensor& xv = tape.value(x);
  const Tensor none;
  const Tensor& w = weights.valid() ? tape.value(weights) : none;
  Tensor out = Tensor::empty({sums}, xv.device(), xv.dtype());
  kernels::weighted_sum_forward(xv, w, scale, out);
  const bool record = tape.should_record({x, weights});
  Var result = tape.output(out, record, output_name);
  if (record) {
    Node node;
    node.name = name;
    node.backward = weighted_sum_backward_rule;
    node.inputs = {x, weights};
    node.outputs = {result};
    node.reals[0] = scale;
    tape.record(node);
  }
  return result;
}

}  // namespace

Var weighted_sum(Tape& tape, Var x, Var weights, double scale) {
  return scaled_sums(tape, x, weights, scale, 1, "weighted_sum", "output of weighted_sum");
}

Var weighted_mean(Tape& tape, Var x, Var weights) {
  const std::int64_t n = tape.value(x).numel();
  LATF_REQUIRE(n > 0, "weighted_mean input x: expected at least one element, got shape ",
               tape.value(x).shape().str());
  return weighted_sum(tape, x, weights, 1.0 / static_cast<double>(n));
}

// The kernel's per-model form: an output [M] holds one scaled sum per slice x[m].
Var model_weighted_mean(Tape& tape, Var x, Var weights) {
  const Tensor& xv = tape.value(x);
  LATF_REQUIRE(xv.defined() && xv.rank() >= 1 && xv.dim(0) >= 1 && xv.numel() > 0,
               "model_weighted_mean input x: expected shape [M, ...] with M >= 1 models of at least one element, got ",
               xv.defined() ? xv.shape().str() : std::string("undefined"));
  const std::int64_t models = xv.dim(0);
  const double scale = 1.0 / static_cast<double>(xv.numel() / models);
  return scaled_sums(tape, x, weights, scale, models, "model_weighted_mean", "output of model_weighted_mean");
}

}  // namespace latf::autodiff
