#include "autodiff/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/error.hpp"
#include "engine/random_fill.hpp"

namespace latf::autodiff {

namespace {

std::vector<Var> enter(Tape& tape, const std::vector<Tensor>& inputs, const std::vector<bool>& differentiable) {
  std::vector<Var> vars;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    vars.push_back(differentiable[i] ? tape.variable(inputs[i]) : tape.constant(inputs[i]));
  return vars;
}

double contract(const std::vector<Tensor>& outputs, const std::vector<Tensor>& cotangents) {
  double total = 0.0;
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    const std::vector<double> f = outputs[o].to_double_vector(), r = cotangents[o].to_double_vector();
    for (std::size_t i = 0; i < f.size(); ++i) total += f[i] * r[i];
  }
  return total;
}

std::vector<Tensor> evaluate(const TapeFunction& function, const std::vector<Tensor>& inputs,
                             const std::vector<bool>& differentiable) {
  Tape tape;
  NoGradGuard no_grad(tape);
  std::vector<Tensor> values;
  for (Var v : function(tape, enter(tape, inputs, differentiable))) values.push_back(tape.value(v));
  return values;
}

}  // namespace

GradientCheckResult check_gradients(const TapeFunction& function, const std::vector<Tensor>& inputs,
                                    const GradientCheckOptions& options) {
  std::vector<bool> differentiable = options.differentiable;
  if (differentiable.empty()) differentiable.assign(inputs.size(), true);
  LATF_REQUIRE(differentiable.size() == inputs.size(), "check_gradients: ", differentiable.size(),
               " differentiable flags for ", inputs.size(), " inputs");
  for (const Tensor& t : inputs)
    LATF_REQUIRE(t.device().is_cpu() && t.dtype() == DType::Float64,
                 "check_gradients: inputs must be float64 CPU tensors");

  // Analytic gradients: one backward pass per output, each seeded with its cotangent. The
  // contraction is linear, so the per-output gradients add up to ∂L/∂x.
  Tape tape;
  std::vector<Var> vars = enter(tape, inputs, differentiable);
  std::vector<Var> outs = function(tape, vars);
  std::vector<Tensor> cotangents;
  for (std::size_t o = 0; o < outs.size(); ++o) {
    Tensor r = Tensor::empty(tape.value(outs[o]).shape(), Device::cpu(), DType::Float64);
    fill_uniform(r, options.seed, o, -1.0, 1.0);
    cotangents.push_back(r);
  }
  std::vector<std::vector<double>> analytic(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) analytic[i].assign(inputs[i].numel(), 0.0);
  for (std::size_t o = 0; o < outs.size(); ++o) {
    Tape single;
    std::vector<Var> sv = enter(single, inputs, differentiable);
    std::vector<Var> so = function(single, sv);
    if (!single.requires_grad(so[o])) continue;
    single.backward(so[o], cotangents[o]);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!differentiable[i] || !single.grad(sv[i]).defined()) continue;
      const std::vector<double> g = single.grad(sv[i]).to_double_vector();
      for (std::size_t k = 0; k < g.size(); ++k) analytic[i][k] += g[k];
    }
  }

  GradientCheckResult result;
  std::ostringstream failures;
  int reported = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!differentiable[i]) continue;
    for (std::int64_t k = 0; k < inputs[i].numel(); ++k) {
      std::vector<Tensor> shifted = inputs;
      shifted[i] = inputs[i].clone();
      double* p = shifted[i].data<double>();
      const double original = p[k];
      p[k] = original + options.step;
      const double plus = contract(evaluate(function, shifted, differentiable), cotangents);
      p[k] = original - options.step;
      const double minus = contract(evaluate(function, shifted, differentiable), cotangents);
      const double numeric = (plus - minus) / (2 * options.step);
      const double error = std::abs(analytic[i][k] - numeric) / std::max(1.0, std::abs(numeric));
      if (error > result.worst_error) result.worst_error = error;
      if (error > options.tolerance || !std::isfinite(analytic[i][k])) {
        result.passed = false;
        if (reported++ < 10)
          failures << "input " << i << " element " << k << ": analytic " << analytic[i][k] << ", numeric "
                   << numeric << " (error " << error << ")\n";
      }
    }
  }
  result.report = result.passed ? concat("worst relative error ", result.worst_error) : failures.str();
  return result;
}

}  // namespace latf::autodiff
