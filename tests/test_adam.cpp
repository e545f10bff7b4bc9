#include <cmath>
#include <string>

#include "autodiff/ops.hpp"
#include "autodiff/optimizer.hpp"
#include "kernels/adam.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using kernels::AdamConfig;

// Independent double reference, written from the algorithm as torch.optim.Adam documents it:
// g ← g + λθ; m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; m̂ = m/(1−β1^t); v̂ = v/(1−β2^t);
// θ ← θ − lr · m̂ / (√v̂ + ε).
struct ReferenceAdam {
  std::vector<double> p, m, v;
  AdamConfig c;
  int t = 0;
  void step(const std::vector<double>& grad, double lr) {
    ++t;
    for (std::size_t i = 0; i < p.size(); ++i) {
      const double g = grad[i] + double(c.weight_decay) * p[i];
      m[i] = double(c.beta1) * m[i] + (1 - double(c.beta1)) * g;
      v[i] = double(c.beta2) * v[i] + (1 - double(c.beta2)) * g * g;
      const double m_hat = m[i] / (1 - std::pow(double(c.beta1), t));
      const double v_hat = v[i] / (1 - std::pow(double(c.beta2), t));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + double(c.epsilon));
    }
  }
};

struct AdamCase {
  const char* name;
  DType dtype;
  AdamConfig config;
  double tolerance;
};
void PrintTo(const AdamCase& c, std::ostream* os) { *os << c.name; }

class AdamStepTest : public ::testing::TestWithParam<AdamCase> {};

TEST_P(AdamStepTest, SeveralStepsMatchDoubleReference) {
  const AdamCase c = GetParam();
  const std::int64_t n = 37;
  Tensor p = testing::random_tensor({n}, 1, -1, 1, c.dtype);
  Tensor m = Tensor::zeros({n}, Device::cpu(), c.dtype), v = Tensor::zeros({n}, Device::cpu(), c.dtype);
  ReferenceAdam ref{p.to_double_vector(), std::vector<double>(n, 0.0), std::vector<double>(n, 0.0), c.config};
  for (int step = 1; step <= 6; ++step) {
    Tensor g = testing::random_tensor({n}, 100 + step, -2, 2, c.dtype);
    if (c.dtype == DType::Float64) {
      g.data<double>()[0] = 0;  // a parameter with no gradient: only ε and weight decay move it
    } else {
      g.data<float>()[0] = 0;
    }
    const float lr = c.config.learning_rate * std::pow(0.9f, float(step - 1));
    AdamConfig config = c.config;
    config.learning_rate = lr;
    kernels::adam_step(p, g, m, v, config, step);
    ref.step(g.to_double_vector(), lr);
  }
  EXPECT_LT(testing::max_relative_error(p.to_double_vector(), ref.p), c.tolerance);
  EXPECT_LT(testing::max_relative_error(m.to_double_vector(), ref.m), c.tolerance);
  EXPECT_LT(testing::max_relative_error(v.to_double_vector(), ref.v), c.tolerance);
}

AdamConfig custom_config() {
  AdamConfig c;
  c.learning_rate = 0.05f;
  c.beta1 = 0.8f;
  c.beta2 = 0.95f;
  c.epsilon = 1e-6f;
  c.weight_decay = 0.1f;
  return c;
}

INSTANTIATE_TEST_SUITE_P(Configs, AdamStepTest,
                         ::testing::Values(AdamCase{"DefaultFloat", DType::Float32, AdamConfig{}, 2e-6},
                                           AdamCase{"DefaultDouble", DType::Float64, AdamConfig{}, 1e-12},
                                           AdamCase{"WeightDecayFloat", DType::Float32, custom_config(), 2e-6},
                                           AdamCase{"WeightDecayDouble", DType::Float64, custom_config(), 1e-12}),
                         [](const ::testing::TestParamInfo<AdamCase>& info) { return std::string(info.param.name); });

TEST(AdamStep, FirstStepMovesByLearningRate) {
  // With m̂ = g and v̂ = g², the first update is lr · g/(|g| + ε) ≈ lr · sign(g).
  Tensor p = Tensor::from_vector(std::vector<float>{1.f, 1.f}, {2});
  Tensor g = Tensor::from_vector(std::vector<float>{3.f, -0.5f}, {2});
  Tensor m = Tensor::zeros({2}), v = Tensor::zeros({2});
  kernels::adam_step(p, g, m, v, AdamConfig{}, 1);
  EXPECT_NEAR(p.to_vector()[0], 1.f - 1e-3f, 1e-7);
  EXPECT_NEAR(p.to_vector()[1], 1.f + 1e-3f, 1e-7);
}

TEST(AdamStep, RejectsBadInputsWithNames) {
  Tensor p = Tensor::zeros({4}), g = Tensor::zeros({4}), m = Tensor::zeros({4}), v = Tensor::zeros({4});
  auto with = [](auto change) {
    AdamConfig c;
    change(c);
    return c;
  };
  testing::expect_invalid_argument([&] { kernels::adam_step(p, g, m, v, AdamConfig{}, 0); }, "Adam step");
  testing::expect_invalid_argument([&] { kernels::adam_step(p, g, m, v, with([](AdamConfig& c) { c.beta1 = 1.f; }), 1); }, "beta1");
  testing::expect_invalid_argument([&] { kernels::adam_step(p, g, m, v, with([](AdamConfig& c) { c.beta2 = -0.1f; }), 1); }, "beta2");
  testing::expect_invalid_argument([&] { kernels::adam_step(p, g, m, v, with([](AdamConfig& c) { c.epsilon = 0.f; }), 1); }, "epsilon");
  testing::expect_invalid_argument([&] { kernels::adam_step(p, g, m, v, with([](AdamConfig& c) { c.learning_rate = NAN; }), 1); },
                 "learning_rate");
  testing::expect_invalid_argument([&] { kernels::adam_step(p, g, m, v, with([](AdamConfig& c) { c.weight_decay = -1.f; }), 1); },
                 "weight_decay");
  testing::expect_invalid_argument([&] { kernels::adam_step(p, Tensor::zeros({5}), m, v, AdamConfig{}, 1); }, "Adam gradients");
  testing::expect_invalid_argument([&] {
    Tensor bad = Tensor::zeros({4}, Device::cpu(), DType::Float64);
    kernels::adam_step(p, g, bad, v, AdamConfig{}, 1);
  }, "Adam first moment");
  testing::expect_invalid_argument([&] {
    Tensor bad = Tensor::zeros({2, 2});
    kernels::adam_step(p, g, m, bad, AdamConfig{}, 1);
  }, "Adam second moment");
}

// ---- ParameterSet ------------------------------------------------------------------------------

TEST(ParameterSet, ViewsShareTheFlatBuffers) {
  autodiff::ParameterSet set;
  EXPECT_EQ(set.declare("weight", {2, 3}), 0);
  EXPECT_EQ(set.declare("bias", {3}), 1);
  EXPECT_EQ(set.declare("scale", {1}), 2);
  set.allocate(Device::cpu());
  EXPECT_EQ(set.size(), 10);
  EXPECT_EQ(set.count(), 3);
  EXPECT_EQ(set.names(), (std::vector<std::string>{"weight", "bias", "scale"}));
  EXPECT_EQ(set.value("bias").shape(), Shape({3}));
  EXPECT_EQ(set.flat_values().shape(), Shape({10}));

  set.value("bias").copy_from(Tensor::from_vector(std::vector<float>{1.f, 2.f, 3.f}, {3}));
  set.grad(2).fill(4.0);
  const auto values = set.flat_values().to_vector(), grads = set.flat_grads().to_vector();
  EXPECT_EQ(std::vector<float>(values.begin() + 6, values.begin() + 9), (std::vector<float>{1.f, 2.f, 3.f}));
  EXPECT_EQ(values[0], 0.f);
  EXPECT_EQ(grads[9], 4.f);
  EXPECT_EQ(grads[8], 0.f);
}

TEST(ParameterSet, ZeroGradZeroesEveryParameter) {
  autodiff::ParameterSet set;
  set.declare("a", {4, 5});
  set.declare("b", {7});
  set.allocate(Device::cpu());
  set.flat_grads().view(0, {27}).fill(3.0);
  set.zero_grad();
  for (float g : set.flat_grads().to_vector()) EXPECT_EQ(g, 0.f);
  for (int i = 0; i < set.count(); ++i)
    for (float g : set.grad(i).to_vector()) EXPECT_EQ(g, 0.f);
}

TEST(ParameterSet, TapeGradientsLandInTheFlatBuffer) {
  autodiff::ParameterSet set;
  set.declare("first", {2});
  set.declare("second", {3});
  set.allocate(Device::cpu());
  set.value(1).copy_from(Tensor::from_vector(std::vector<float>{1.f, -1.f, 2.f}, {3}));
  autodiff::Tape tape;
  autodiff::Var x = tape.parameter(set.value(1), set.grad(1));
  tape.backward(autodiff::weighted_sum(tape, x, autodiff::Var{}, 2.0));
  EXPECT_EQ(set.flat_grads().to_vector(), (std::vector<float>{0.f, 0.f, 2.f, 2.f, 2.f}));
}

TEST(ParameterSet, RejectsMisuseWithNames) {
  autodiff::ParameterSet set;
  set.declare("weight", {2});
  testing::expect_invalid_argument([&] { set.declare("weight", {3}); }, "'weight' is declared twice");
  testing::expect_invalid_argument([&] { set.value(0); }, "before allocate()");
  set.allocate(Device::cpu());
  testing::expect_invalid_argument([&] { set.value("wieght"); }, "unknown parameter 'wieght'");
  testing::expect_invalid_argument([&] { set.grad(1); }, "index 1");
  testing::expect_invalid_argument([&] { set.declare("late", {1}); }, "'late' declared after allocate()");
  testing::expect_invalid_argument([&] { set.allocate(Device::cpu()); }, "allocate() called twice");
}

// ---- Adam optimizer ----------------------------------------------------------------------------

TEST(AdamOptimizer, StepsMatchTheKernelAndResetRestarts) {
  autodiff::ParameterSet set;
  set.declare("w", {3, 2});
  set.declare("b", {2});
  set.allocate(Device::cpu(), DType::Float64);
  Tensor values = set.flat_values(), grads = set.flat_grads();  // handles onto the flat buffers
  values.copy_from(testing::random_tensor({8}, 1, -1, 1, DType::Float64));
  const Tensor start = values.clone();
  AdamConfig config = custom_config();
  autodiff::Adam adam(set, config);

  ReferenceAdam ref{start.to_double_vector(), std::vector<double>(8, 0.0), std::vector<double>(8, 0.0), config};
  for (int step = 1; step <= 4; ++step) {
    Tensor g = testing::random_tensor({8}, 10 + step, -1, 1, DType::Float64);
    grads.copy_from(g);
    adam.step(0.01f * step);  // the caller's schedule, not config.learning_rate
    ref.step(g.to_double_vector(), double(0.01f * step));
  }
  EXPECT_EQ(adam.steps(), 4);
  EXPECT_LT(testing::max_relative_error(set.flat_values().to_double_vector(), ref.p), 1e-12);

  // After reset() the next step is a first step again (bias corrections with t = 1, fresh moments).
  adam.reset();
  EXPECT_EQ(adam.steps(), 0);
  for (double m : adam.first_moment().to_double_vector()) EXPECT_EQ(m, 0.0);
  values.copy_from(start);
  Tensor g = testing::random_tensor({8}, 99, -1, 1, DType::Float64);
  grads.copy_from(g);
  adam.step(0.02f);
  ReferenceAdam fresh{start.to_double_vector(), std::vector<double>(8, 0.0), std::vector<double>(8, 0.0), config};
  fresh.step(g.to_double_vector(), double(0.02f));
  EXPECT_LT(testing::max_relative_error(set.flat_values().to_double_vector(), fresh.p), 1e-12);
}

TEST(AdamOptimizer, RequiresAnAllocatedSetAndAValidConfig) {
  autodiff::ParameterSet set;
  set.declare("w", {3});
  testing::expect_invalid_argument([&] { autodiff::Adam adam(set); }, "before allocate()");
  set.allocate(Device::cpu());
  AdamConfig bad;
  bad.beta2 = 1.5f;
  testing::expect_invalid_argument([&] { autodiff::Adam adam(set, bad); }, "beta2");
}

TEST(AdamOptimizer, MinimisesASumOfSquares) {
  // Loss Σ θ·θ (weighted_sum with θ as its own weights) has its minimum 0 at θ = 0.
  autodiff::ParameterSet set;
  const int theta_index = set.declare("theta", {10});
  set.allocate(Device::cpu());
  set.value(theta_index).copy_from(testing::random_tensor({10}, 3, -1, 1));
  autodiff::Adam adam(set);
  autodiff::Tape tape;
  float first_loss = 0, loss = 0, lr = 0.1f;
  for (int step = 0; step < 600; ++step) {
    tape.clear();
    set.zero_grad();
    autodiff::Var theta = tape.parameter(set.value(theta_index), set.grad(theta_index));
    autodiff::Var objective = autodiff::weighted_sum(tape, theta, theta);
    loss = tape.value(objective).item();
    if (step == 0) first_loss = loss;
    tape.backward(objective);
    adam.step(lr);
    lr *= 0.99f;
  }
  EXPECT_GT(first_loss, 0.5f);
  EXPECT_LT(loss, 1e-6f);
  for (float t : set.value(theta_index).to_vector()) EXPECT_LT(std::abs(t), 1e-2f);
}

}  // namespace
}  // namespace latf
