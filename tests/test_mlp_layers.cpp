// The fused MLP with separate operands (autodiff::mlp_layers, kernels::mlp_layers_*): equal to its
// oracle, the chain of three linear ops, forward and every gradient (single and stacked, ReLU and
// LeakyReLU); finite differences; stacked = per-model single calls bit for bit; the packed form
// runs the same code; bad operands rejected by name; SpibModel fused vs chain on the CPU.
#include <algorithm>
#include <array>

#include "autodiff/gradcheck.hpp"
#include "autodiff/ops.hpp"
#include "kernels/mlp.hpp"
#include "models/spib.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::Tape;
using autodiff::Var;
using kernels::Activation;
using kernels::MlpLayers;
using kernels::MlpShape;

constexpr int kParts = 6;

struct LayersCase {
  std::int64_t models;  // 0: the single form
  std::int64_t n;
  MlpShape shape;
  float alpha;  // 0: ReLU
};

std::string case_name(const ::testing::TestParamInfo<LayersCase>& info) {
  const LayersCase& c = info.param;
  return (c.models == 0 ? std::string("single") : "m" + std::to_string(c.models)) + "_n" + std::to_string(c.n) +
         "_in" + std::to_string(c.shape.in) + "_h" + std::to_string(c.shape.hidden) + "_out" +
         std::to_string(c.shape.out) + (c.alpha == 0.f ? "_relu" : "_leaky");
}

// Operand k's single-form shape.
Shape part_shape(const MlpShape& s, int k) {
  switch (k) {
    case 0: return {s.hidden, s.in};
    case 2: return {s.hidden, s.hidden};
    case 4: return {s.out, s.hidden};
    case 5: return {s.out};
    default: return {s.hidden};
  }
}
Shape with_models(const Shape& s, std::int64_t models) {
  if (models == 0) return s;
  return s.rank() == 1 ? Shape{models, s[0]} : Shape{models, s[0], s[1]};
}

// x and the six operands (std::vector index 0 = x, 1..6 = W1..b3), stacked when c.models ≥ 1.
std::vector<Tensor> make_inputs(const LayersCase& c, std::uint64_t seed, DType dtype = DType::Float32) {
  std::vector<Tensor> v;
  v.push_back(testing::random_tensor(with_models({c.n, c.shape.in}, c.models), seed, -2, 2, dtype));
  for (int k = 0; k < kParts; ++k)
    v.push_back(testing::random_tensor(with_models(part_shape(c.shape, k), c.models), seed + 1 + k, -0.6, 0.6, dtype));
  return v;
}

Var fused(Tape& tape, const std::vector<Var>& v, float alpha) {
  return autodiff::mlp_layers(tape, v[0], v[1], v[2], v[3], v[4], v[5], v[6], alpha);
}
// The oracle: three linear ops.
Var chain(Tape& tape, const std::vector<Var>& v, float alpha) {
  const Activation act = alpha == 0.f ? Activation::ReLU : Activation::LeakyReLU;
  const float slope = alpha == 0.f ? 0.01f : alpha;  // ReLU ignores it
  Var h = autodiff::linear(tape, v[0], v[1], v[2], act, slope);
  h = autodiff::linear(tape, h, v[3], v[4], act, slope);
  return autodiff::linear(tape, h, v[5], v[6]);
}

// Value of f on the inputs and the gradients of ⟨dy, f⟩ to every input (from zero).
struct Evaluation {
  Tensor y;
  std::vector<Tensor> grads;
};
Evaluation evaluate(const std::function<Var(Tape&, const std::vector<Var>&)>& f, const std::vector<Tensor>& inputs,
                    const Tensor& dy) {
  Tape tape;
  Evaluation e;
  std::vector<Var> vars;
  for (const Tensor& t : inputs) {
    e.grads.push_back(Tensor::zeros(t.shape(), t.device(), t.dtype()));
    vars.push_back(tape.parameter(t, e.grads.back()));
  }
  Var out = f(tape, vars);
  e.y = tape.value(out);
  tape.backward(out, dy);
  return e;
}

const char* const kInputNames[] = {"x", "W1", "b1", "W2", "b2", "W3", "b3"};

class MlpLayersOp : public ::testing::TestWithParam<LayersCase> {};

TEST_P(MlpLayersOp, EqualsChainOfLinearOps) {
  const LayersCase c = GetParam();
  const auto inputs = make_inputs(c, 10);
  const Tensor dy = testing::random_tensor(with_models({c.n, c.shape.out}, c.models), 30);
  const Evaluation a = evaluate([&](Tape& t, const std::vector<Var>& v) { return fused(t, v, c.alpha); }, inputs, dy);
  const Evaluation b = evaluate([&](Tape& t, const std::vector<Var>& v) { return chain(t, v, c.alpha); }, inputs, dy);
  ASSERT_EQ(a.y.shape(), b.y.shape());
  EXPECT_LT(testing::max_relative_error(a.y, b.y), 1e-5);
  for (int i = 0; i < 7; ++i) EXPECT_LT(testing::max_relative_error(a.grads[i], b.grads[i]), 1e-5) << kInputNames[i];
}

TEST_P(MlpLayersOp, GradientsMatchFiniteDifferences) {
  LayersCase c = GetParam();
  c.n = std::min<std::int64_t>(c.n, 3);
  auto f = [&](Tape& tape, const std::vector<Var>& v) { return std::vector<Var>{fused(tape, v, c.alpha)}; };
  const auto result = autodiff::check_gradients(f, make_inputs(c, 60, DType::Float64));
  EXPECT_TRUE(result.passed) << result.report;
}

TEST_P(MlpLayersOp, PackedFormRunsTheSameCode) {
  // Pack each model's operands into the MlpShape layout: autodiff::mlp gives the same bits.
  const LayersCase c = GetParam();
  const auto inputs = make_inputs(c, 80);
  const std::int64_t models = std::max<std::int64_t>(c.models, 1);
  const MlpShape& s = c.shape;
  Tensor packed = Tensor::empty(c.models == 0 ? Shape{s.size()} : Shape{models, s.size()});
  for (std::int64_t m = 0; m < models; ++m)
    for (int k = 0; k < kParts; ++k)
      packed.view(m * s.size() + s.offset(k), {s.count(k)}).copy_from(inputs[k + 1].view(m * s.count(k), {s.count(k)}));
  const Tensor dy = testing::random_tensor(with_models({c.n, s.out}, c.models), 90);
  const Evaluation a = evaluate([&](Tape& t, const std::vector<Var>& v) { return fused(t, v, c.alpha); }, inputs, dy);
  const Evaluation b = evaluate(
      [&](Tape& t, const std::vector<Var>& v) { return autodiff::mlp(t, v[0], v[1], s, c.alpha); }, {inputs[0], packed},
      dy);
  EXPECT_EQ(testing::float_bits(a.y), testing::float_bits(b.y));
  EXPECT_EQ(testing::float_bits(a.grads[0]), testing::float_bits(b.grads[0]));
  for (std::int64_t m = 0; m < models; ++m)
    for (int k = 0; k < kParts; ++k)
      EXPECT_EQ(testing::float_bits(a.grads[k + 1].view(m * s.count(k), {s.count(k)})),
                testing::float_bits(b.grads[1].view(m * s.size() + s.offset(k), {s.count(k)})))
          << kInputNames[k + 1] << ", model " << m;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MlpLayersOp,
    ::testing::Values(LayersCase{0, 37, {2, 16, 1}, 0.f}, LayersCase{0, 37, {2, 16, 1}, 0.01f},
                      LayersCase{0, 1, {3, 5, 4}, 0.f}, LayersCase{0, 23, {1, 32, 10}, 0.2f},
                      LayersCase{1, 19, {2, 16, 3}, 0.f}, LayersCase{3, 19, {2, 16, 3}, 0.f},
                      LayersCase{3, 11, {4, 7, 5}, 0.01f}, LayersCase{3, 1, {2, 16, 2}, 0.f}),
    case_name);

// ---------------------------------------------------------------- stacked = per-model singles

struct StackedCase {
  std::int64_t models, n;
  MlpShape shape;
  float alpha;
};

class StackedMlpLayers : public ::testing::TestWithParam<StackedCase> {};

TEST_P(StackedMlpLayers, EqualsPerModelSingleCallsBitForBit) {
  const StackedCase c = GetParam();
  const MlpShape& s = c.shape;
  // Per-model slices with their own seeds, so the models differ.
  std::vector<std::vector<Tensor>> slices(7);
  slices[0] = testing::random_slices(c.models, {c.n, s.in}, 10, -2, 2);
  for (int k = 0; k < kParts; ++k) slices[k + 1] = testing::random_slices(c.models, part_shape(s, k), 20 + 10 * k, -0.6, 0.6);
  const auto dys = testing::random_slices(c.models, {c.n, s.out}, 90);
  std::vector<Tensor> stacked;
  for (const auto& v : slices) stacked.push_back(testing::stack_slices(v));
  // Kernel level, accumulating into nonzero gradients.
  MlpLayers layers, grads;
  for (int k = 0; k < kParts; ++k) {
    layers[k] = stacked[k + 1];
    grads[k] = testing::random_tensor(stacked[k + 1].shape(), 100 + k);
  }
  Tensor y = Tensor::empty({c.models, c.n, s.out}), dx = testing::random_tensor(stacked[0].shape(), 99);
  const Tensor dx0 = dx.clone();
  std::vector<Tensor> grads0;
  for (int k = 0; k < kParts; ++k) grads0.push_back(grads[k].clone());
  kernels::mlp_layers_forward(stacked[0], layers, c.alpha, y);
  kernels::mlp_layers_backward(stacked[0], layers, c.alpha, testing::stack_slices(dys), dx, grads);
  // The tape op.
  const Evaluation op = evaluate([&](Tape& t, const std::vector<Var>& v) { return fused(t, v, c.alpha); }, stacked,
                                 testing::stack_slices(dys));
  for (std::int64_t m = 0; m < c.models; ++m) {
    MlpLayers lm, gm;
    for (int k = 0; k < kParts; ++k) {
      lm[k] = slices[k + 1][m];
      gm[k] = testing::model_slice(grads0[k], m).clone();
    }
    Tensor ym = Tensor::empty({c.n, s.out}), dxm = testing::model_slice(dx0, m).clone();
    kernels::mlp_layers_forward(slices[0][m], lm, c.alpha, ym);
    kernels::mlp_layers_backward(slices[0][m], lm, c.alpha, dys[m], dxm, gm);
    EXPECT_EQ(testing::float_bits(testing::model_slice(y, m)), testing::float_bits(ym)) << "kernel y, model " << m;
    EXPECT_EQ(testing::float_bits(testing::model_slice(dx, m)), testing::float_bits(dxm)) << "kernel dx, model " << m;
    for (int k = 0; k < kParts; ++k)
      EXPECT_EQ(testing::float_bits(testing::model_slice(grads[k], m)), testing::float_bits(gm[k]))
          << "kernel d" << kInputNames[k + 1] << ", model " << m;
    std::vector<Tensor> single;
    for (const auto& v : slices) single.push_back(v[m]);
    const Evaluation one = evaluate([&](Tape& t, const std::vector<Var>& v) { return fused(t, v, c.alpha); }, single,
                                    dys[m]);
    EXPECT_EQ(testing::float_bits(testing::model_slice(op.y, m)), testing::float_bits(one.y)) << "op y, model " << m;
    for (int i = 0; i < 7; ++i)
      EXPECT_EQ(testing::float_bits(testing::model_slice(op.grads[i], m)), testing::float_bits(one.grads[i]))
          << "op d" << kInputNames[i] << ", model " << m;
  }
}

std::string stacked_name(const ::testing::TestParamInfo<StackedCase>& info) {
  const StackedCase& c = info.param;
  return "m" + std::to_string(c.models) + "_n" + std::to_string(c.n) + "_h" + std::to_string(c.shape.hidden) +
         (c.alpha == 0.f ? "_relu" : "_leaky");
}

INSTANTIATE_TEST_SUITE_P(Shapes, StackedMlpLayers,
                         ::testing::Values(StackedCase{1, 13, {2, 16, 1}, 0.f}, StackedCase{3, 13, {2, 16, 1}, 0.f},
                                           StackedCase{3, 1, {3, 5, 4}, 0.01f},
                                           StackedCase{3, 70, {2, 32, 10}, 0.01f}),
                         stacked_name);

// ---------------------------------------------------------------- bad input

TEST(MlpLayersOp, RejectsBadOperandsByName) {
  const MlpShape s{2, 16, 3};
  const LayersCase single{0, 4, s, 0.f}, stacked{3, 4, s, 0.f};
  const auto in = make_inputs(single, 1), st = make_inputs(stacked, 1);
  auto layers_of = [](const std::vector<Tensor>& v) {
    MlpLayers l;
    for (int k = 0; k < kParts; ++k) l[k] = v[k + 1];
    return l;
  };
  Tensor y = Tensor::empty({4, 3}), ys = Tensor::empty({3, 4, 3});
  {  // a wrong operand shape, one at a time
    for (int k = 0; k < kParts; ++k) {
      MlpLayers l = layers_of(in);
      if (k == 0 || k == 4) continue;  // the widths come from W1 and W3
      l[k] = Tensor::zeros({17});
      testing::expect_invalid_argument([&] { kernels::mlp_layers_forward(in[0], l, 0.f, y); },
                                       kernels::mlp_layer_name(k));
    }
  }
  {  // x columns that do not match W1
    testing::expect_invalid_argument([&] { kernels::mlp_layers_forward(Tensor::zeros({4, 3}), layers_of(in), 0.f, y); },
                                     "mlp_layers input x");
  }
  {  // W3 of the wrong width against W2
    MlpLayers l = layers_of(in);
    l.weight3 = Tensor::zeros({3, 15});
    testing::expect_invalid_argument([&] { kernels::mlp_layers_forward(in[0], l, 0.f, y); }, "weight3 (W3)");
  }
  {  // mixed forms: x stacked, W1 single; x single, b2 stacked
    MlpLayers l = layers_of(st);
    l.weight1 = in[1];
    testing::expect_invalid_argument_all([&] { kernels::mlp_layers_forward(st[0], l, 0.f, ys); },
                                         {"weight1 (W1)", "stacked"});
    MlpLayers l2 = layers_of(in);
    l2.bias2 = st[4];
    testing::expect_invalid_argument([&] { kernels::mlp_layers_forward(in[0], l2, 0.f, y); }, "bias2 (b2)");
  }
  {  // model count mismatch
    MlpLayers l = layers_of(st);
    l.bias3 = Tensor::zeros({2, 3});
    testing::expect_invalid_argument_all([&] { kernels::mlp_layers_forward(st[0], l, 0.f, ys); },
                                         {"bias3 (b3)", "[3, 3]"});
  }
  {  // undefined operand, dtype mismatch, negative slope, wrong output
    MlpLayers l = layers_of(in);
    l.bias1 = Tensor();
    testing::expect_invalid_argument([&] { kernels::mlp_layers_forward(in[0], l, 0.f, y); }, "bias1 (b1)");
    MlpLayers d = layers_of(in);
    d.weight2 = testing::as_double(d.weight2);
    testing::expect_invalid_argument([&] { kernels::mlp_layers_forward(in[0], d, 0.f, y); }, "weight2 (W2)");
    testing::expect_invalid_argument([&] { kernels::mlp_layers_forward(in[0], layers_of(in), -0.1f, y); }, "alpha");
    testing::expect_invalid_argument([&] { kernels::mlp_layers_forward(in[0], layers_of(in), 0.f, ys); },
                                     "mlp_layers output y");
  }
  {  // backward: wrong gradient shapes
    MlpLayers grads;
    grads.weight3 = Tensor::zeros({3, 3});
    Tensor dx;
    testing::expect_invalid_argument(
        [&] { kernels::mlp_layers_backward(in[0], layers_of(in), 0.f, Tensor::zeros({4, 3}), dx, grads); },
        "mlp_layers weight3 gradient");
    MlpLayers none;
    Tensor bad_dx = Tensor::zeros({4, 3});
    testing::expect_invalid_argument(
        [&] { kernels::mlp_layers_backward(in[0], layers_of(in), 0.f, Tensor::zeros({4, 3}), bad_dx, none); },
        "mlp_layers input gradient dx");
    testing::expect_invalid_argument(
        [&] { kernels::mlp_layers_backward(in[0], layers_of(in), 0.f, Tensor::zeros({4, 2}), dx, none); },
        "mlp_layers output gradient dy");
  }
  {  // the tape op reports the kernel's message
    Tape tape;
    std::vector<Var> v;
    for (const Tensor& t : in) v.push_back(tape.constant(t));
    v[5] = tape.constant(Tensor::zeros({3, 15}));
    testing::expect_invalid_argument([&] { fused(tape, v, 0.f); }, "weight3 (W3)");
  }
}

TEST(MlpLayersOp, UnwantedGradientsAreSkipped) {
  // Only W2 needs a gradient: the others stay untouched (undefined sinks).
  const LayersCase c{0, 9, {2, 16, 3}, 0.f};
  const auto inputs = make_inputs(c, 5);
  Tape tape;
  std::vector<Var> v;
  Tensor dw2 = Tensor::zeros(inputs[3].shape());
  for (int i = 0; i < 7; ++i) v.push_back(i == 3 ? tape.parameter(inputs[i], dw2) : tape.constant(inputs[i]));
  Var out = fused(tape, v, 0.f);
  tape.backward(out, testing::random_tensor({9, 3}, 6));
  const Evaluation full = evaluate([](Tape& t, const std::vector<Var>& w) { return fused(t, w, 0.f); }, inputs,
                                   testing::random_tensor({9, 3}, 6));
  EXPECT_EQ(testing::float_bits(dw2), testing::float_bits(full.grads[3]));
}

// ---------------------------------------------------------------- SpibModel fused vs chain

// encode (inputs and pseudo-inputs) and decode, contracted to a scalar with fixed random weights;
// returns the means, logits, pseudo-input means and every parameter gradient.
struct SpibRun {
  std::vector<Tensor> values;
  Tensor grads;
};
SpibRun run_spib(models::SpibModel& model, const Tensor& x) {
  model.parameters().zero_grad();
  Tape tape;
  const Var xs = tape.constant(x);
  const Var mean = model.encode_mean(tape, xs);
  const Var logits = model.decode_logits(tape, mean);
  const Var pseudo = model.encode_mean(tape, model.pseudo_inputs(tape));
  auto contract = [&](Var v, std::uint64_t seed) {
    return autodiff::weighted_sum(tape, v, tape.constant(testing::random_tensor(tape.value(v).shape(), seed)));
  };
  Var loss = autodiff::axpby(tape, 1.0, contract(mean, 1), 1.0, contract(logits, 2));
  loss = autodiff::axpby(tape, 1.0, loss, 1.0, contract(pseudo, 3));
  tape.backward(loss);
  return SpibRun{{tape.value(mean).clone(), tape.value(logits).clone(), tape.value(pseudo).clone()},
                 model.parameters().flat_grads().clone()};
}

models::SpibShape spib_shape(int models) {
  models::SpibShape shape{3, 5, {}};
  shape.config.encoder = models::EncoderKind::Nonlinear;
  shape.config.latent_dim = 2;
  shape.config.encoder_width = 16;
  shape.config.decoder_width = 16;
  shape.models = models;
  return shape;
}

void expect_fused_matches_chain(models::SpibModel& model, const Tensor& x) {
  ASSERT_FALSE(model.fused());  // the CPU default
  const SpibRun reference = run_spib(model, x);
  model.set_fused(true);
  ASSERT_TRUE(model.encoder_fused());
  ASSERT_TRUE(model.decoder_fused());
  const SpibRun fused_run = run_spib(model, x);
  const char* what[] = {"encoder mean", "decoder logits", "pseudo-input means"};
  for (int i = 0; i < 3; ++i) EXPECT_LT(testing::max_relative_error(fused_run.values[i], reference.values[i]), 1e-5) << what[i];
  EXPECT_LT(testing::max_relative_error(fused_run.grads, reference.grads), 1e-5);
  // The pseudo-inputs and every encoder/decoder tensor receive a gradient.
  for (const char* name : {"pseudo_inputs", "encoder.0.weight", "encoder.2.bias", "decoder.1.weight", "decoder.2.bias"}) {
    const auto g = model.parameters().grad(name).to_vector();
    EXPECT_TRUE(std::any_of(g.begin(), g.end(), [](float v) { return v != 0.f; })) << name;
  }
}

TEST(SpibModelFused, SingleMatchesChainOnCpu) {
  models::SpibModel model(spib_shape(0), Device::cpu(), 4);
  expect_fused_matches_chain(model, testing::random_tensor({33, 3}, 7, -2, 2));
}

TEST(SpibModelFused, StackedMatchesChainOnCpu) {
  const models::SpibModel a(spib_shape(0), Device::cpu(), 4), b(spib_shape(0), Device::cpu(), 5),
      c(spib_shape(0), Device::cpu(), 6);
  models::SpibModel stacked = models::SpibModel::stack({&a, &b, &c});
  expect_fused_matches_chain(stacked, testing::random_tensor({3, 33, 3}, 7, -2, 2));
  // Copies keep the setting.
  EXPECT_TRUE(stacked.model(1, 5).fused());
}

TEST(SpibModelFused, EncoderStaysAChainWhereItCannotFuse) {
  for (bool input_dependent : {false, true}) {
    for (auto kind : {models::EncoderKind::Linear, models::EncoderKind::Nonlinear}) {
      models::SpibShape shape = spib_shape(0);
      shape.config.encoder = kind;
      shape.config.input_dependent_variance = input_dependent;
      models::SpibModel model(shape, Device::cpu(), 4);
      model.set_fused(true);
      EXPECT_EQ(model.encoder_fused(), kind == models::EncoderKind::Nonlinear && !input_dependent);
      EXPECT_TRUE(model.decoder_fused());
      EXPECT_TRUE(model.with_states({0, 2}).fused());
      // Still runs (fused decoder with a chain encoder).
      Tape tape;
      const auto e = model.encode(tape, tape.constant(testing::random_tensor({4, 3}, 1)));
      EXPECT_EQ(tape.value(model.decode_logits(tape, e.mean)).shape(), (Shape{4, 5}));
    }
  }
}

}  // namespace
}  // namespace latf
