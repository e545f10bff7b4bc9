#pragma once
// A reverse-mode tape of coarse ops. Each recorded node holds its inputs' and outputs' value
// ids, the tensors its backward rule needs, a few scalars, and a plain function pointer to that
// rule (no closure, no heap allocation per node). Nodes are recorded in execution order, which
// is a topological order, so backward() simply walks them in reverse.
//
// Gradients: a parameter's gradient ACCUMULATES into the tensor handed to parameter() (a view of
// the flat gradient buffer); zeroing it is the caller's explicit job. Gradients of intermediate
// values live on the tape and vanish with clear(). The tape never looks at which device runs.
#include <array>
#include <cstdint>
#include <vector>

#include "engine/tensor.hpp"

namespace latf::autodiff {

struct Var {
  int id = -1;
  bool valid() const { return id >= 0; }
};

class Tape;
struct Node;
using BackwardRule = void (*)(Tape& tape, const Node& node);

struct Node {
  static constexpr int kMaxInputs = 7;  // mlp_layers: x and six weight operands
  static constexpr int kMaxOutputs = 2;
  static constexpr int kMaxSaved = 4;
  const char* name = "";
  BackwardRule backward = nullptr;
  std::array<Var, kMaxInputs> inputs{};
  std::array<Var, kMaxOutputs> outputs{};
  std::array<Tensor, kMaxSaved> saved{};
  std::array<double, 4> reals{};
  std::array<std::int64_t, 4> integers{};
};

class Tape {
 public:
  Tape();
  // A value that never receives a gradient (data, labels, noise).
  Var constant(const Tensor& value);
  // A value whose gradient is kept on the tape (read it with grad() after backward()).
  Var variable(const Tensor& value);
  // A trainable value whose gradient accumulates into `grad` (same shape, device and dtype).
  Var parameter(const Tensor& value, const Tensor& grad);

  const Tensor& value(Var v) const;
  // The gradient reached so far; undefined if nothing flowed into v.
  const Tensor& grad(Var v) const;
  bool requires_grad(Var v) const;

  // For op implementations: a new output value, which requires a gradient when any input does.
  Var output(const Tensor& value, bool requires_grad, const char* op_name = "an op");
  // For op implementations: whether to record a node for these inputs.
  bool should_record(std::initializer_list<Var> inputs) const;
  void record(const Node& node);
  // For backward rules: the tensor to accumulate v's gradient into (zero-initialised on first
  // use), or an undefined tensor when v needs no gradient.
  Tensor gradient_sink(Var v);

  // Runs every recorded rule in reverse, seeding `output` with `seed` (same shape, device and
  // dtype), or with 1 when the output holds a single element and no seed is given. Call it once
  // per recording; clear() before recording the next step.
  void backward(Var output, const Tensor& seed = Tensor());
  // Forgets all values and nodes but keeps the capacity, so the next step allocates nothing.
  void clear();

  // Check mode (on by default): every value entering the tape and every op output is scanned
  // for NaN/Inf, and the first one found throws InvalidArgument naming the value or op. Costs
  // one pass over each tensor (plus a device→host copy on CUDA); turn it off in tuned loops
  // that check their loss instead.
  bool check_finite() const { return check_finite_; }
  void set_check_finite(bool enabled) { check_finite_ = enabled; }

  bool grad_enabled() const { return grad_enabled_; }
  void set_grad_enabled(bool enabled) { grad_enabled_ = enabled; }
  std::size_t node_count() const { return nodes_.size(); }

 private:
  struct Slot {
    Tensor value;
    Tensor grad;
    bool requires_grad = false;
    bool external_grad = false;  // parameter: grad is the caller's buffer
  };
  const Slot& slot(Var v) const;
  Var add(const Tensor& value, bool requires_grad, const Tensor& grad, const char* what);

  std::vector<Slot> slots_;
  std::vector<Node> nodes_;
  bool grad_enabled_ = true;
  bool check_finite_ = true;
};

// Inference mode: ops inside the guard's scope compute values but record nothing.
class NoGradGuard {
 public:
  explicit NoGradGuard(Tape& tape) : tape_(tape), previous_(tape.grad_enabled()) { tape.set_grad_enabled(false); }
  ~NoGradGuard() { tape_.set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  Tape& tape_;
  bool previous_;
};

}  // namespace latf::autodiff
