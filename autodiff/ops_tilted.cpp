#include "autodiff/ops.hpp"
#include "kernels/tilted.hpp"

namespace latf::autodiff {

namespace {

void tilted_log_density_backward_rule(Tape& tape, const Node& node) {
  Tensor dz = tape.gradient_sink(node.inputs[0]);
  kernels::tilted_log_density_backward(tape.value(node.inputs[0]), tape.value(node.inputs[1]),
                                       static_cast<float>(node.reals[0]), tape.grad(node.outputs[0]), dz);
}

// The stacked form keeps its taus [M] (on z's device) in saved[0].
void stacked_tilted_log_density_backward_rule(Tape& tape, const Node& node) {
  Tensor dz = tape.gradient_sink(node.inputs[0]);
  kernels::tilted_log_density_backward(tape.value(node.inputs[0]), tape.value(node.inputs[1]), node.saved[0],
                                       tape.grad(node.outputs[0]), dz);
}

// Temperatures and normalisers are data here: only z is differentiated. A single tau rides in
// reals[0]; a stack's taus in saved[0].
Var record_density(Tape& tape, Var z, Var inverse_temperature, Var log_normalizer, const Tensor& out_value,
                   BackwardRule rule, const char* name, float tau, const Tensor& taus) {
  const bool record = tape.should_record({z});
  Var out = tape.output(out_value, record, "output of tilted_log_density");
  if (record) {
    Node node;
    node.name = name;
    node.backward = rule;
    node.inputs = {z, inverse_temperature, log_normalizer};
    node.outputs = {out};
    node.reals[0] = tau;
    node.saved[0] = taus;
    tape.record(node);
  }
  return out;
}

}  // namespace

Var tilted_log_density(Tape& tape, Var z, Var inverse_temperature, Var log_normalizer, float tau) {
  const Tensor& zv = tape.value(z);
  const Tensor& bv = tape.value(inverse_temperature);
  const Tensor cv = log_normalizer.valid() ? tape.value(log_normalizer) : Tensor();
  Tensor out_value = Tensor::empty({zv.rank() >= 1 ? zv.dim(0) : 0}, zv.device(), zv.dtype());
  kernels::tilted_log_density_forward(zv, bv, cv, tau, out_value);
  return record_density(tape, z, inverse_temperature, log_normalizer, out_value, tilted_log_density_backward_rule,
                        "tilted_log_density", tau, Tensor());
}

Var tilted_log_density(Tape& tape, Var z, Var inverse_temperature, Var log_normalizer, const Tensor& taus) {
  const Tensor& zv = tape.value(z);
  const Tensor& bv = tape.value(inverse_temperature);
  const Tensor cv = log_normalizer.valid() ? tape.value(log_normalizer) : Tensor();
  const Shape rows = zv.rank() == 3 ? Shape{zv.dim(0), zv.dim(1)} : Shape{0};  // a wrong rank: the kernel names z
  Tensor out_value = Tensor::empty(rows, zv.device(), zv.dtype());
  kernels::tilted_log_density_forward(zv, bv, cv, taus, out_value);
  return record_density(tape, z, inverse_temperature, log_normalizer, out_value,
                        stacked_tilted_log_density_backward_rule, "tilted_log_density (stacked)", 0.f, taus);
}

}  // namespace latf::autodiff
