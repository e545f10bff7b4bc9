#include "autodiff/tape.hpp"

#include "engine/error.hpp"
#include "kernels/common.hpp"

namespace latf::autodiff {

Tape::Tape() {
  slots_.reserve(256);
  nodes_.reserve(128);
}

Var Tape::add(const Tensor& value, bool requires_grad, const Tensor& grad, const char* what) {
  require_defined(value, what);
  if (check_finite_) kernels::require_finite(value, what);
  slots_.push_back(Slot{value, grad, requires_grad, grad.defined()});
  return Var{static_cast<int>(slots_.size()) - 1};
}

Var Tape::constant(const Tensor& value) { return add(value, false, Tensor(), "tape constant"); }

Var Tape::variable(const Tensor& value) { return add(value, true, Tensor(), "tape variable"); }

Var Tape::parameter(const Tensor& value, const Tensor& grad) {
  require_shape(grad, value.shape(), "parameter gradient");
  require_same_device(value, grad, "parameter", "parameter gradient");
  return add(value, true, grad, "tape parameter");
}

const Tape::Slot& Tape::slot(Var v) const {
  LATF_REQUIRE(v.valid() && v.id < static_cast<int>(slots_.size()), "tape variable ", v.id,
               " does not exist on this tape (", slots_.size(), " values; was the tape cleared?)");
  return slots_[v.id];
}

const Tensor& Tape::value(Var v) const { return slot(v).value; }
const Tensor& Tape::grad(Var v) const { return slot(v).grad; }
bool Tape::requires_grad(Var v) const { return slot(v).requires_grad; }

Var Tape::output(const Tensor& value, bool requires_grad, const char* op_name) {
  return add(value, requires_grad, Tensor(), op_name);
}

bool Tape::should_record(std::initializer_list<Var> inputs) const {
  if (!grad_enabled_) return false;
  for (Var v : inputs)
    if (v.valid() && slot(v).requires_grad) return true;
  return false;
}

void Tape::record(const Node& node) { nodes_.push_back(node); }

Tensor Tape::gradient_sink(Var v) {
  if (!v.valid()) return Tensor();
  Slot& s = slots_[v.id];
  if (!s.requires_grad) return Tensor();
  if (!s.grad.defined()) s.grad = Tensor::zeros(s.value.shape(), s.value.device(), s.value.dtype());
  return s.grad;
}

void Tape::backward(Var output, const Tensor& seed) {
  const Slot& out = slot(output);
  LATF_REQUIRE(out.requires_grad, "backward: the output does not depend on any value that requires a gradient");
  Tensor sink = gradient_sink(output);
  if (seed.defined()) {
    require_shape(seed, out.value.shape(), "backward seed");
    require_same_device(seed, sink, "backward seed", "backward output");
    sink.copy_from(seed);
  } else {
    LATF_REQUIRE(out.value.numel() == 1, "backward: output of shape ", out.value.shape().str(),
                 " is not a scalar; pass a seed gradient of that shape");
    sink.fill(1.0);
  }
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    bool reached = false;
    for (Var o : it->outputs)
      if (o.valid() && slots_[o.id].grad.defined()) reached = true;
    if (reached) it->backward(*this, *it);
  }
}

void Tape::clear() {
  slots_.clear();
  nodes_.clear();
}

}  // namespace latf::autodiff
