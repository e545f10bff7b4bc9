#include "bench/coupling_stack.hpp"

#include <filesystem>
#include <fstream>
#include <memory>

#include "autodiff/ops.hpp"
#include "bench/bench_support.hpp"
#include "bench/op_cases.hpp"
#include "engine/error.hpp"
#include "kernels/coupling_stack.hpp"

namespace latf::bench {

kernels::CouplingSpec CouplingStack::spec() {
  kernels::CouplingSpec s;
  s.dim = kDim;
  s.hidden = kHidden;
  s.direction = kernels::CouplingDirection::Normalizing;
  return s;
}

CouplingStack::CouplingStack(const Device& device) {
  const std::int64_t net = spec().net().size();
  for (int l = 0; l < kLayers; ++l) {
    parameters_.declare(concat("layer", l, ".scale"), {net});
    parameters_.declare(concat("layer", l, ".shift"), {net});
    parameters_.declare(concat("layer", l, ".a"), {kDim});
    masks_.push_back(Tensor::from_vector(l % 2 == 0 ? std::vector<float>{1.f, 0.f} : std::vector<float>{0.f, 1.f},
                                         {kDim}, device));
  }
  parameters_.allocate(device);
  // Weights ~ N(0, 0.25²) keep every layer's scale exp(±s·a) moderate over ten layers, so the
  // check against PyTorch compares well-conditioned numbers.
  for (int i = 0; i < parameters_.count(); ++i) {
    const bool is_a = i % 3 == 2;
    parameters_.value(i).copy_from(random_normal(parameters_.shape(i), device, 100 + i, 0, is_a ? 0.5 : 0.25));
  }
}

CouplingStack::Outputs CouplingStack::forward(autodiff::Tape& tape, const Tensor& u) {
  using namespace autodiff;
  const Var input = tape.variable(u);  // u is the encoder's sample: its gradient is needed in training
  Var x = input;
  Var total_log_det;
  for (int l = 0; l < kLayers; ++l) {
    const Var scale = tape.parameter(parameters_.value(3 * l), parameters_.grad(3 * l));
    const Var shift = tape.parameter(parameters_.value(3 * l + 1), parameters_.grad(3 * l + 1));
    const Var a = tape.parameter(parameters_.value(3 * l + 2), parameters_.grad(3 * l + 2));
    const CouplingOutputs out = coupling(tape, x, tape.constant(masks_[l]), scale, shift, a, spec());
    x = out.y;
    total_log_det = l == 0 ? out.log_det : axpby(tape, 1.0, total_log_det, 1.0, out.log_det);
  }
  const Var loss = axpby(tape, 1.0, weighted_mean(tape, total_log_det, Var{}), 1.0, weighted_mean(tape, x, Var{}));
  return {input, x, total_log_det, loss};
}

void CouplingStack::step(autodiff::Tape& tape, const Tensor& u) {
  parameters_.zero_grad();
  tape.clear();
  tape.backward(forward(tape, u).loss);
}

Runner make_coupling_stack(const Device& device, std::int64_t batch) {
  // Shared by both closures; the tape keeps its capacity between steps (no allocation).
  auto stack = std::make_shared<CouplingStack>(device);
  auto tape = std::make_shared<autodiff::Tape>();
  const Tensor u = random_normal({batch, CouplingStack::kDim}, device, 1);
  return {[=] {
            // Inference: values only, nothing recorded (the twin runs under torch.no_grad()).
            tape->clear();
            autodiff::NoGradGuard no_grad(*tape);
            stack->forward(*tape, u);
          },
          [=] { stack->step(*tape, u); }};
}

Runner make_coupling_stack_fused(const Device& device, std::int64_t batch) {
  auto stack = std::make_shared<CouplingStack>(device);
  const kernels::CouplingSpec spec = CouplingStack::spec();
  constexpr int L = CouplingStack::kLayers, d = CouplingStack::kDim;
  std::vector<float> masks;
  for (int l = 0; l < L; ++l) masks.insert(masks.end(), {l % 2 == 0 ? 1.f : 0.f, l % 2 == 0 ? 0.f : 1.f});
  const Tensor mask = Tensor::from_vector(masks, {L, d}, device);
  const Tensor params = stack->parameters().flat_values();
  const Tensor u = random_normal({batch, d}, device, 1);
  // The chain's loss gradient: 1/(N·d) per z element, 1/N per log-det (see CouplingStack::forward).
  const Tensor dz = Tensor::full({batch, d}, 1.0 / (batch * d), device), dlog_det = Tensor::full({batch}, 1.0 / batch, device);
  Tensor z = Tensor::empty({batch, d}, device), log_det = Tensor::empty({batch}, device);
  Tensor du = Tensor::zeros({batch, d}, device), dparams = Tensor::zeros(params.shape(), device);
  auto forward = [=]() mutable { kernels::coupling_stack_forward(u, mask, params, spec, L, z, log_det); };
  return {forward, [=]() mutable {
            forward();
            dparams.zero();
            kernels::coupling_stack_backward(u, mask, params, spec, L, dz, dlog_det, du, dparams);
          }};
}

namespace {

void write_floats(const std::filesystem::path& path, const Tensor& t) {
  const std::vector<float> values = t.to_vector();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
  LATF_REQUIRE(out.good(), "dump: cannot write ", path.string());
}

}  // namespace

void dump_coupling_stack(const std::string& directory, std::int64_t batch) {
  const std::filesystem::path dir(directory);
  std::filesystem::create_directories(dir);
  CouplingStack stack(Device::cpu());
  autodiff::Tape tape;
  const Tensor u = random_normal({batch, CouplingStack::kDim}, Device::cpu(), 1);
  const CouplingStack::Outputs out = stack.forward(tape, u);
  tape.backward(out.loss);
  write_floats(dir / "u.f32", u);
  write_floats(dir / "params.f32", stack.parameters().flat_values());
  write_floats(dir / "z.f32", tape.value(out.z));
  write_floats(dir / "log_det.f32", tape.value(out.log_det));
  write_floats(dir / "loss.f32", tape.value(out.loss));
  write_floats(dir / "param_grads.f32", stack.parameters().flat_grads());
  write_floats(dir / "u_grad.f32", tape.grad(out.u));
  const kernels::CouplingSpec s = CouplingStack::spec();
  std::ofstream meta(dir / "meta.json");
  meta << "{\"layers\": " << CouplingStack::kLayers << ", \"dim\": " << s.dim << ", \"hidden\": " << s.hidden
       << ", \"alpha\": " << s.alpha << ", \"batch\": " << batch << ", \"net_size\": " << s.net().size()
       << ", \"first_mask\": [1, 0], \"direction\": \"normalizing\"}\n";
  LATF_REQUIRE(meta.good(), "dump: cannot write ", (dir / "meta.json").string());
}

}  // namespace latf::bench
