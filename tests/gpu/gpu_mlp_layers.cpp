// CPU vs CUDA for the fused MLP with separate operands (kernels::mlp_layers_*), single and stacked,
// ReLU and LeakyReLU, every gradient; the SPIB model's fused CUDA nets against the CPU chain.
#include <cmath>

#include "autodiff/ops.hpp"
#include "kernels/mlp.hpp"
#include "models/spib.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using kernels::MlpLayers;
using kernels::MlpShape;

struct Case {
  std::int64_t models;  // 0: the single form
  std::int64_t n;
  MlpShape shape;
  float alpha;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return (c.models == 0 ? std::string("single") : "m" + std::to_string(c.models)) + "_n" + std::to_string(c.n) +
         "_in" + std::to_string(c.shape.in) + "_h" + std::to_string(c.shape.hidden) + "_out" +
         std::to_string(c.shape.out) + (c.alpha == 0.f ? "_relu" : "_leaky");
}

Shape part_shape(const MlpShape& s, int k, std::int64_t models) {
  const Shape shapes[] = {{s.hidden, s.in}, {s.hidden}, {s.hidden, s.hidden}, {s.hidden}, {s.out, s.hidden}, {s.out}};
  const Shape& p = shapes[k];
  if (models == 0) return p;
  return p.rank() == 1 ? Shape{models, p[0]} : Shape{models, p[0], p[1]};
}
Shape rows(const Case& c, int width) { return c.models == 0 ? Shape{c.n, width} : Shape{c.models, c.n, width}; }

// Weight gradients sum over rows, so their float error grows with the batch.
double gradient_tolerance(std::int64_t n) { return 2e-4 * std::max(1.0, std::sqrt(double(n) / 64.0)); }

class GpuMlpLayers : public ::testing::TestWithParam<Case> {};

TEST_P(GpuMlpLayers, MatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  const Tensor x = testing::random_tensor(rows(c, c.shape.in), 1, -2, 2),
               dy = testing::random_tensor(rows(c, c.shape.out), 2), dx0 = testing::random_tensor(x.shape(), 3);
  MlpLayers layers, grads, layers_gpu, grads_gpu;
  for (int k = 0; k < 6; ++k) {
    layers[k] = testing::random_tensor(part_shape(c.shape, k, c.models), 10 + k, -0.4, 0.4);
    grads[k] = testing::random_tensor(layers[k].shape(), 20 + k);
    layers_gpu[k] = layers[k].to(gpu);
    grads_gpu[k] = grads[k].to(gpu);
  }
  Tensor y = Tensor::empty(rows(c, c.shape.out)), dx = dx0.clone();
  kernels::mlp_layers_forward(x, layers, c.alpha, y);
  kernels::mlp_layers_backward(x, layers, c.alpha, dy, dx, grads);
  Tensor xg = x.to(gpu), yg = Tensor::empty(y.shape(), gpu), dxg = dx0.to(gpu);
  kernels::mlp_layers_forward(xg, layers_gpu, c.alpha, yg);
  kernels::mlp_layers_backward(xg, layers_gpu, c.alpha, dy.to(gpu), dxg, grads_gpu);
  EXPECT_LT(testing::max_relative_error(yg, y), 1e-5);
  EXPECT_LT(testing::max_relative_error(dxg, dx), 1e-5);
  for (int k = 0; k < 6; ++k)
    EXPECT_LT(testing::max_relative_error(grads_gpu[k], grads[k]), gradient_tolerance(c.n)) << kernels::mlp_layer_name(k);
}

TEST_P(GpuMlpLayers, SkipsUnwantedGradients) {
  LATF_SKIP_WITHOUT_GPU();
  // Only b2 and dx wanted: the kernel must leave every other operand's gradient alone (null).
  const Case c = GetParam();
  const Device gpu = Device::cuda(0);
  const Tensor x = testing::random_tensor(rows(c, c.shape.in), 1, -2, 2), dy = testing::random_tensor(rows(c, c.shape.out), 2);
  MlpLayers layers, grads, layers_gpu, grads_gpu;
  for (int k = 0; k < 6; ++k) {
    layers[k] = testing::random_tensor(part_shape(c.shape, k, c.models), 10 + k, -0.4, 0.4);
    layers_gpu[k] = layers[k].to(gpu);
  }
  grads.bias2 = Tensor::zeros(layers.bias2.shape());
  grads_gpu.bias2 = Tensor::zeros(layers.bias2.shape(), gpu);
  Tensor dx = Tensor::zeros(x.shape()), dxg = Tensor::zeros(x.shape(), gpu);
  kernels::mlp_layers_backward(x, layers, c.alpha, dy, dx, grads);
  kernels::mlp_layers_backward(x.to(gpu), layers_gpu, c.alpha, dy.to(gpu), dxg, grads_gpu);
  EXPECT_LT(testing::max_relative_error(dxg, dx), 1e-5);
  EXPECT_LT(testing::max_relative_error(grads_gpu.bias2, grads.bias2), gradient_tolerance(c.n));
}

INSTANTIATE_TEST_SUITE_P(Shapes, GpuMlpLayers,
                         ::testing::Values(Case{0, 513, {2, 16, 1}, 0.f}, Case{0, 1, {2, 16, 10}, 0.f},
                                           Case{0, 1000, {3, 32, 16}, 0.01f}, Case{1, 700, {2, 16, 1}, 0.f},
                                           Case{3, 1, {2, 16, 2}, 0.f}, Case{3, 4099, {5, 64, 7}, 0.01f},
                                           Case{4, 70000, {2, 16, 1}, 0.f}),
                         case_name);

TEST(GpuMlpLayers, RejectsWidthsWithoutAFusedKernelByName) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  const MlpShape s{2, 20, 1};
  MlpLayers layers;
  for (int k = 0; k < 6; ++k) layers[k] = Tensor::zeros(part_shape(s, k, 0), gpu);
  Tensor y = Tensor::empty({4, 1}, gpu);
  testing::expect_invalid_argument_all(
      [&] { kernels::mlp_layers_forward(Tensor::zeros({4, 2}, gpu), layers, 0.f, y); },
      {"mlp_layers on CUDA", "hidden=20", "autodiff::linear"});
}

// The SPIB model on CUDA (fused by default where the widths allow) against the CPU chain: the
// encoder mean, the decoder logits and the pseudo-inputs' means, and every parameter gradient.
struct SpibRun {
  std::vector<Tensor> values;
  Tensor grads;
};
SpibRun run_spib(models::SpibModel& model, const Tensor& x) {
  model.parameters().zero_grad();
  autodiff::Tape tape;
  const autodiff::Var mean = model.encode_mean(tape, tape.constant(x));
  const autodiff::Var logits = model.decode_logits(tape, mean);
  const autodiff::Var pseudo = model.encode_mean(tape, model.pseudo_inputs(tape));
  auto contract = [&](autodiff::Var v, std::uint64_t seed) {
    const Tensor w = testing::random_tensor(tape.value(v).shape(), seed).to(x.device());
    return autodiff::weighted_sum(tape, v, tape.constant(w));
  };
  autodiff::Var loss = autodiff::axpby(tape, 1.0, contract(mean, 1), 1.0, contract(logits, 2));
  loss = autodiff::axpby(tape, 1.0, loss, 1.0, contract(pseudo, 3));
  tape.backward(loss);
  const Device cpu = Device::cpu();
  return SpibRun{{tape.value(mean).to(cpu), tape.value(logits).to(cpu), tape.value(pseudo).to(cpu)},
                 model.parameters().flat_grads().to(cpu)};
}

models::SpibShape spib_shape(int models) {
  models::SpibShape shape{2, 6, {}};
  shape.config.encoder = models::EncoderKind::Nonlinear;
  shape.config.latent_dim = 1;
  shape.models = models;
  return shape;
}

models::SpibModel make_cpu_model(int models) {
  if (models == 0) return models::SpibModel(spib_shape(0), Device::cpu(), 4);
  const models::SpibModel a(spib_shape(0), Device::cpu(), 4), b(spib_shape(0), Device::cpu(), 5),
      c(spib_shape(0), Device::cpu(), 6);
  return models::SpibModel::stack({&a, &b, &c});
}

TEST(GpuSpibFused, SingleAndStackedMatchCpuChain) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  for (int models : {0, 3}) {
    models::SpibModel cpu_model = make_cpu_model(models);
    ASSERT_FALSE(cpu_model.fused());  // the CPU runs the chain
    // The same parameters on the GPU: a model of that shape there, its flat buffer overwritten.
    models::SpibModel gpu_model(cpu_model.shape(), gpu, 0);
    gpu_model.parameters().flat_values().copy_from(cpu_model.parameters().flat_values().to(gpu));
    EXPECT_TRUE(gpu_model.fused());
    EXPECT_TRUE(gpu_model.encoder_fused());
    EXPECT_TRUE(gpu_model.decoder_fused());
    const Tensor x = testing::random_tensor(models == 0 ? Shape{600, 2} : Shape{3, 600, 2}, 7, -2, 2);
    const SpibRun reference = run_spib(cpu_model, x);
    const SpibRun fused = run_spib(gpu_model, x.to(gpu));
    for (int i = 0; i < 3; ++i) EXPECT_LT(testing::max_relative_error(fused.values[i], reference.values[i]), 1e-5) << i;
    EXPECT_LT(testing::max_relative_error(fused.grads, reference.grads), gradient_tolerance(600));
  }
}

}  // namespace
}  // namespace latf
