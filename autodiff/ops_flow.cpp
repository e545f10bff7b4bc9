// The conditioner MLP (packed, or with separate operands: mlp_layers), the affine coupling layer
// and the fused stack of coupling layers (kernels/coupling_stack.hpp) as tape ops.
#include "autodiff/ops.hpp"
#include "kernels/coupling_stack.hpp"

namespace latf::autodiff {

namespace {

kernels::MlpShape mlp_shape_of(const Node& node) {
  return kernels::MlpShape{static_cast<int>(node.integers[0]), static_cast<int>(node.integers[1]),
                           static_cast<int>(node.integers[2])};
}

void mlp_backward_rule(Tape& tape, const Node& node) {
  Tensor dx = tape.gradient_sink(node.inputs[0]);
  Tensor dparams = tape.gradient_sink(node.inputs[1]);
  kernels::mlp_backward(tape.value(node.inputs[0]), tape.value(node.inputs[1]), mlp_shape_of(node),
                        static_cast<float>(node.reals[0]), tape.grad(node.outputs[0]), dx, dparams);
}

// The separate-operand MLP: inputs x, W1, b1, W2, b2, W3, b3; the widths come from their values.
void mlp_layers_backward_rule(Tape& tape, const Node& node) {
  kernels::MlpLayers layers, grads;
  for (int k = 0; k < 6; ++k) {
    layers[k] = tape.value(node.inputs[k + 1]);
    grads[k] = tape.gradient_sink(node.inputs[k + 1]);
  }
  Tensor dx = tape.gradient_sink(node.inputs[0]);
  kernels::mlp_layers_backward(tape.value(node.inputs[0]), layers, static_cast<float>(node.reals[0]),
                               tape.grad(node.outputs[0]), dx, grads);
}

// A coupling spec travels in a node as integers {dim, hidden, direction, ·} and reals {alpha, clamp}.
void store_spec(Node& node, const kernels::CouplingSpec& spec) {
  node.integers[0] = spec.dim;
  node.integers[1] = spec.hidden;
  node.integers[2] = static_cast<std::int64_t>(spec.direction);
  node.reals[0] = spec.alpha;
  node.reals[1] = spec.scale_clamp;
}

kernels::CouplingSpec coupling_spec_of(const Node& node) {
  kernels::CouplingSpec spec;
  spec.dim = static_cast<int>(node.integers[0]);
  spec.hidden = static_cast<int>(node.integers[1]);
  spec.direction = static_cast<kernels::CouplingDirection>(node.integers[2]);
  spec.alpha = static_cast<float>(node.reals[0]);
  spec.scale_clamp = static_cast<float>(node.reals[1]);
  return spec;
}

void coupling_backward_rule(Tape& tape, const Node& node) {
  Tensor dx = tape.gradient_sink(node.inputs[0]);
  Tensor dscale = tape.gradient_sink(node.inputs[2]);
  Tensor dshift = tape.gradient_sink(node.inputs[3]);
  Tensor da = tape.gradient_sink(node.inputs[4]);
  kernels::coupling_backward(tape.value(node.inputs[0]), tape.value(node.inputs[1]), tape.value(node.inputs[2]),
                             tape.value(node.inputs[3]), tape.value(node.inputs[4]), coupling_spec_of(node),
                             tape.grad(node.outputs[0]), tape.grad(node.outputs[1]), dx, dscale, dshift, da,
                             node.saved[0].defined() ? &node.saved[0] : nullptr);
}

// Fused stack: the layer count rides in integers[3]; backward recomputes from x, nothing is saved.
void coupling_stack_backward_rule(Tape& tape, const Node& node) {
  Tensor dx = tape.gradient_sink(node.inputs[0]);
  Tensor dparams = tape.gradient_sink(node.inputs[2]);
  kernels::coupling_stack_backward(tape.value(node.inputs[0]), tape.value(node.inputs[1]), tape.value(node.inputs[2]),
                                   coupling_spec_of(node), static_cast<int>(node.integers[3]),
                                   tape.grad(node.outputs[0]), tape.grad(node.outputs[1]), dx, dparams);
}

// y and log_det for x [N, d] → [N, d], [N], or the model-stacked x [M, N, d] → [M, N, d], [M, N].
// Ranks the kernels reject get placeholders, so that their message naming the operand is the one seen.
struct CouplingValues {
  Tensor y, log_det;
};
CouplingValues coupling_values_for(const Tensor& xv, const kernels::CouplingSpec& spec) {
  const bool stacked = xv.rank() == 3;
  const std::int64_t n = stacked ? xv.dim(1) : xv.rank() >= 1 ? xv.dim(0) : 0;
  if (stacked)
    return {Tensor::empty({xv.dim(0), n, spec.dim}, xv.device(), xv.dtype()),
            Tensor::empty({xv.dim(0), n}, xv.device(), xv.dtype())};
  return {Tensor::empty({n, spec.dim}, xv.device(), xv.dtype()), Tensor::empty({n}, xv.device(), xv.dtype())};
}

}  // namespace

Var mlp(Tape& tape, Var x, Var params, const kernels::MlpShape& shape, float alpha) {
  const Tensor& xv = tape.value(x);
  // [N, out], or [M, N, out] in the model-stacked form (x [M, N, in]).
  Tensor y = xv.rank() == 3 ? Tensor::empty({xv.dim(0), xv.dim(1), shape.out}, xv.device(), xv.dtype())
                            : Tensor::empty({xv.rank() >= 1 ? xv.dim(0) : 0, shape.out}, xv.device(), xv.dtype());
  kernels::mlp_forward(xv, tape.value(params), shape, alpha, y);
  const bool record = tape.should_record({x, params});
  Var out = tape.output(y, record, "output of mlp");
  if (record) {
    Node node;
    node.name = "mlp";
    node.backward = mlp_backward_rule;
    node.inputs = {x, params};
    node.outputs = {out};
    node.integers = {shape.in, shape.hidden, shape.out, 0};
    node.reals[0] = alpha;
    tape.record(node);
  }
  return out;
}

Var mlp_layers(Tape& tape, Var x, Var w1, Var b1, Var w2, Var b2, Var w3, Var b3, float alpha) {
  const Tensor& xv = tape.value(x);
  kernels::MlpLayers layers;
  const Var operands[6] = {w1, b1, w2, b2, w3, b3};
  for (int k = 0; k < 6; ++k) layers[k] = tape.value(operands[k]);
  // [N, out], or [M, N, out] in the model-stacked form; ranks the kernel rejects get a placeholder
  // so that its message naming the operand is the one seen.
  const Tensor& w3v = layers.weight3;
  const std::int64_t out = w3v.rank() >= 2 ? w3v.dim(w3v.rank() - 2) : 0;
  Tensor y = xv.rank() == 3 ? Tensor::empty({xv.dim(0), xv.dim(1), out}, xv.device(), xv.dtype())
                            : Tensor::empty({xv.rank() >= 1 ? xv.dim(0) : 0, out}, xv.device(), xv.dtype());
  kernels::mlp_layers_forward(xv, layers, alpha, y);
  const bool record = tape.should_record({x, w1, b1, w2, b2, w3, b3});
  Var result = tape.output(y, record, "output of mlp_layers");
  if (record) {
    Node node;
    node.name = "mlp_layers";
    node.backward = mlp_layers_backward_rule;
    node.inputs = {x, w1, b1, w2, b2, w3, b3};
    node.outputs = {result};
    node.reals[0] = alpha;
    tape.record(node);
  }
  return result;
}

CouplingOutputs coupling(Tape& tape, Var x, Var mask, Var scale_params, Var shift_params, Var scale_vector,
                         const kernels::CouplingSpec& spec) {
  const Tensor& xv = tape.value(x);
  const std::int64_t models = xv.rank() == 3 ? xv.dim(0) : 1;
  auto [y, log_det] = coupling_values_for(xv, spec);
  const std::int64_t n = log_det.dim(log_det.rank() - 1);  // rows per model
  const bool record = tape.should_record({x, scale_params, shift_params, scale_vector});
  // On the CPU the recorded forward keeps its intermediates for backward (pooled memory).
  Tensor workspace;
  if (record && xv.device().is_cpu())
    workspace = Tensor::empty({kernels::coupling_workspace_size(models, n, spec)}, xv.device(), xv.dtype());
  kernels::coupling_forward(xv, tape.value(mask), tape.value(scale_params), tape.value(shift_params),
                            tape.value(scale_vector), spec, y, log_det, workspace.defined() ? &workspace : nullptr);
  CouplingOutputs out{tape.output(y, record, "coupling output y"),
                      tape.output(log_det, record, "coupling output log_det")};
  if (record) {
    Node node;
    node.name = "coupling";
    node.backward = coupling_backward_rule;
    node.inputs = {x, mask, scale_params, shift_params, scale_vector};
    node.outputs = {out.y, out.log_det};
    store_spec(node, spec);
    node.saved[0] = workspace;
    tape.record(node);
  }
  return out;
}

CouplingOutputs coupling_stack(Tape& tape, Var x, Var masks, Var flow_params, const kernels::CouplingSpec& spec,
                               int layers) {
  const Tensor& xv = tape.value(x);
  auto [y, log_det] = coupling_values_for(xv, spec);
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
    store_spec(node, spec);
    node.integers[3] = layers;
    tape.record(node);
  }
  return out;
}

}  // namespace latf::autodiff
