#include "autodiff/ops.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/linear.hpp"
#include "kernels/sigmoid.hpp"

namespace latf::autodiff {

namespace {

void linear_backward_rule(Tape& tape, const Node& node) {
  const auto act = static_cast<kernels::Activation>(node.integers[0]);
  Tensor dx = tape.gradient_sink(node.inputs[0]);
  Tensor dweight = tape.gradient_sink(node.inputs[1]);
  Tensor dbias = tape.gradient_sink(node.inputs[2]);
  kernels::linear_backward(tape.value(node.inputs[0]), tape.value(node.inputs[1]), tape.value(node.outputs[0]),
                           tape.grad(node.outputs[0]), act, static_cast<float>(node.reals[0]), dx, dweight, dbias);
}

void axpby_backward_rule(Tape& tape, const Node& node) {
  const Tensor& dout = tape.grad(node.outputs[0]);
  Tensor da = tape.gradient_sink(node.inputs[0]);
  Tensor db = tape.gradient_sink(node.inputs[1]);
  if (da.defined()) kernels::accumulate_scaled(node.reals[0], dout, da);
  if (db.defined()) kernels::accumulate_scaled(node.reals[1], dout, db);
}

void scaled_sigmoid_backward_rule(Tape& tape, const Node& node) {
  Tensor dx = tape.gradient_sink(node.inputs[0]);
  if (dx.defined())
    kernels::scaled_sigmoid_backward(tape.value(node.outputs[0]), node.reals[0], tape.grad(node.outputs[0]), dx);
}

}  // namespace

Var linear(Tape& tape, Var x, Var weight, Var bias, kernels::Activation act, float alpha) {
  const Tensor& xv = tape.value(x);
  const Tensor& wv = tape.value(weight);
  // [N, out], or [M, N, out] in the model-stacked form; ranks the kernel rejects get an empty
  // placeholder so that its message, naming the bad operand, is the one the caller sees.
  const std::int64_t out_width = wv.rank() >= 2 ? wv.dim(wv.rank() - 2) : 0;
  Tensor y = xv.rank() == 3 ? Tensor::empty({xv.dim(0), xv.dim(1), out_width}, xv.device(), xv.dtype())
                            : Tensor::empty({xv.rank() == 2 ? xv.dim(0) : 0, out_width}, xv.device(), xv.dtype());
  kernels::linear_forward(xv, wv, tape.value(bias), act, alpha, y);
  const bool record = tape.should_record({x, weight, bias});
  Var out = tape.output(y, record, "output of linear");
  if (record) {
    Node node;
    node.name = "linear";
    node.backward = linear_backward_rule;
    node.inputs = {x, weight, bias};
    node.outputs = {out};
    node.integers[0] = static_cast<std::int64_t>(act);
    node.reals[0] = alpha;
    tape.record(node);
  }
  return out;
}

Var scaled_sigmoid(Tape& tape, Var x, double scale) {
  const Tensor& xv = tape.value(x);
  Tensor y = Tensor::empty(xv.shape(), xv.device(), xv.dtype());
  kernels::scaled_sigmoid_forward(xv, scale, y);
  const bool record = tape.should_record({x});
  Var out = tape.output(y, record, "output of scaled_sigmoid");
  if (record) {
    Node node;
    node.name = "scaled_sigmoid";
    node.backward = scaled_sigmoid_backward_rule;
    node.inputs = {x};
    node.outputs = {out};
    node.reals[0] = scale;
    tape.record(node);
  }
  return out;
}

Var axpby(Tape& tape, double alpha, Var a, double beta, Var b) {
  const Tensor& av = tape.value(a);
  Tensor out_value = Tensor::empty(av.shape(), av.device(), av.dtype());
  kernels::axpby(alpha, av, beta, tape.value(b), out_value);
  const bool record = tape.should_record({a, b});
  Var out = tape.output(out_value, record, "output of axpby");
  if (record) {
    Node node;
    node.name = "axpby";
    node.backward = axpby_backward_rule;
    node.inputs = {a, b};
    node.outputs = {out};
    node.reals = {alpha, beta};
    tape.record(node);
  }
  return out;
}

}  // namespace latf::autodiff
