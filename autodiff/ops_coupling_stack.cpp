// The fused RealNVP coupling stack as one tape op (kernels/coupling_stack.hpp). Backward
// recomputes from the op's input x, so the node saves nothing.
#include "autodiff/ops.hpp"
#include "kernels/coupling_stack.hpp"

namespace latf::autodiff {

namespace {

kernels::CouplingSpec stack_spec_of(const Node& node) {
  kernels::CouplingSpec spec;
  spec.dim = static_cast<int>(node.integers[0]);
  spec.hidden = static_cast<int>(node.integers[1]);
  spec.direction = static_cast<kernels::CouplingDirection>(node.integers[2]);
  spec.alpha = static_cast<float>(node.reals[0]);
  spec.scale_clamp = static_cast<float>(node.reals[1]);
  return spec;
}

void coupling_stack_backward_rule(Tape& tape, const Node& node) {
  Tensor dx = tape.gradient_sink(node.inputs[0]);
  Tensor dparams = tape.gradient_sink(node.inputs[2]);
  kernels::coupling_stack_backward(tape.value(node.inputs[0]), tape.value(node.inputs[1]), tape.value(node.inputs[2]),
                                   stack_spec_of(node), static_cast<int>(node.integers[3]), tape.grad(node.outputs[0]),
                                   tape.grad(node.outputs[1]), dx, dparams);
}

}  // namespace

CouplingOutputs coupling_stack(Tape& tape, Var x, Var masks, Var flow_params, const kernels::CouplingSpec& spec,
                               int layers) {
  const Tensor& xv = tape.value(x);
  // Model-stacked form: x [M, N, d] → y [M, N, d], log_det [M, N]. Ranks the kernel rejects get
  // placeholders so that its message, naming the bad operand, is the one the caller sees.
  const bool stacked = xv.rank() == 3;
  const std::int64_t n = stacked ? xv.dim(1) : xv.rank() >= 1 ? xv.dim(0) : 0;
  Tensor y = stacked ? Tensor::empty({xv.dim(0), n, spec.dim}, xv.device(), xv.dtype())
                     : Tensor::empty({n, spec.dim}, xv.device(), xv.dtype());
  Tensor log_det = stacked ? Tensor::empty({xv.dim(0), n}, xv.device(), xv.dtype())
                           : Tensor::empty({n}, xv.device(), xv.dtype());
  kernels::coupling_stack_forward(xv, tape.value(masks), tape.value(flow_params), spec, layers, y, log_det);
  const bool record = tape.should_record({x, flow_params});
  CouplingOutputs out{tape.output(y, record, "coupling_stack output y"),
                      tape.output(log_det, record, "coupling_stack output log_det")};
  if (record) {
    Node node;
    node.name = "coupling_stack";
    node.backward = coupling_stack_backward_rule;
    node.inputs = {x, masks, flow_params};
    node.outputs = {out.y, out.log_det};
    node.integers = {spec.dim, spec.hidden, static_cast<std::int64_t>(spec.direction), layers};
    node.reals = {spec.alpha, spec.scale_clamp, 0, 0};
    tape.record(node);
  }
  return out;
}

}  // namespace latf::autodiff
