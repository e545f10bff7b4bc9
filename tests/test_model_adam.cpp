#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "autodiff/optimizer.hpp"
#include "engine/memory.hpp"
#include "kernels/adam.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::Adam;
using autodiff::ModelAdam;
using autodiff::ParameterSet;
using kernels::AdamConfig;

// One model's shapes; the stacked set declares [M, ...] of each. "scale" is a per-model scalar
// (one element per model) and "odd" a width that is a multiple of nothing.
struct Declared {
  const char* name;
  std::vector<std::int64_t> dims;
};
const std::vector<Declared> kArchitecture = {{"w", {3, 2}}, {"b", {2}}, {"scale", {}}, {"odd", {7}}};

Shape make_shape(const std::vector<std::int64_t>& dims) {
  switch (dims.size()) {
    case 0: return Shape{1};
    case 1: return Shape{dims[0]};
    case 2: return Shape{dims[0], dims[1]};
    default: return Shape{dims[0], dims[1], dims[2]};
  }
}
Shape stacked_shape(int models, const std::vector<std::int64_t>& dims) {
  switch (dims.size()) {
    case 0: return Shape{models};
    case 1: return Shape{models, dims[0]};
    case 2: return Shape{models, dims[0], dims[1]};
    default: return Shape{models, dims[0], dims[1], dims[2]};
  }
}

// Exact bit patterns of a float32 or float64 tensor (float32 widened), for EXPECT_EQ.
std::vector<std::uint64_t> bits(const Tensor& t) {
  const Tensor host = t.to(Device::cpu());
  std::vector<std::uint64_t> out(static_cast<std::size_t>(host.numel()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (host.dtype() == DType::Float32) {
      std::uint32_t b;
      std::memcpy(&b, host.data<float>() + i, sizeof b);
      out[i] = b;
    } else {
      std::memcpy(&out[i], host.data<double>() + i, sizeof(double));
    }
  }
  return out;
}

// Model m's slice of every parameter of a stacked flat buffer (values, grads or moments), in
// declaration order: exactly the flat buffer of a single-model set.
Tensor model_slice(const ParameterSet& stacked, const Tensor& flat, int models, int m) {
  const std::int64_t single_size = stacked.size() / models;
  Tensor out = Tensor::zeros({single_size}, Device::cpu(), flat.dtype());
  const Tensor host = flat.to(Device::cpu());
  std::int64_t at = 0;
  for (int i = 0; i < stacked.count(); ++i) {
    const std::int64_t size = stacked.shape(i).numel() / models;
    out.view(at, {size}).copy_from(host.view(stacked.offset(i) + m * size, {size}));
    at += size;
  }
  return out;
}

struct Stack {
  ParameterSet stacked;
  std::vector<ParameterSet> singles;
};

// A stacked set of `models` models with random values (different per model) and single-model
// sets holding copies of each model's slice.
void build(Stack& run, int models, DType dtype, const Device& device = Device::cpu()) {
  for (const Declared& d : kArchitecture) run.stacked.declare(d.name, stacked_shape(models, d.dims));
  run.stacked.allocate(device, dtype);
  Tensor values = run.stacked.flat_values();
  values.copy_from(testing::random_tensor({run.stacked.size()}, 7, -1, 1, dtype).to(device));
  run.singles.resize(static_cast<std::size_t>(models));
  for (int m = 0; m < models; ++m) {
    ParameterSet& single = run.singles[m];
    for (const Declared& d : kArchitecture) single.declare(d.name, make_shape(d.dims));
    single.allocate(Device::cpu(), dtype);
    Tensor single_values = single.flat_values();
    single_values.copy_from(model_slice(run.stacked, values, models, m));
  }
}

// Fresh random gradients into the stacked set, and each model's slice into its single set.
void set_gradients(Stack& run, int models, std::uint64_t seed) {
  const ParameterSet& stacked = run.stacked;
  Tensor grads = stacked.flat_grads();
  grads.copy_from(testing::random_tensor({stacked.size()}, seed, -2, 2, grads.dtype()).to(grads.device()));
  for (int m = 0; m < models; ++m) {
    Tensor single_grads = run.singles[m].flat_grads();
    single_grads.copy_from(model_slice(stacked, grads, models, m));
  }
}

AdamConfig decayed_config() {
  AdamConfig c;
  c.learning_rate = 0.03f;
  c.beta1 = 0.8f;
  c.beta2 = 0.95f;
  c.epsilon = 1e-6f;
  c.weight_decay = 0.1f;
  return c;
}

struct EquivalenceCase {
  const char* name;
  int models;
  DType dtype;
  bool weight_decay;
};
void PrintTo(const EquivalenceCase& c, std::ostream* os) { *os << c.name; }

class ModelAdamEquivalence : public ::testing::TestWithParam<EquivalenceCase> {};

// The lead's training equivalence rests on this: the stacked optimizer reproduces M single Adams
// bit for bit through changing per-model rates, a reset of one model mid-run, a model frozen at
// rate 0, and a reset of all.
TEST_P(ModelAdamEquivalence, EqualsSingleAdamsBitForBit) {
  const EquivalenceCase c = GetParam();
  const int models = c.models;
  const AdamConfig config = c.weight_decay ? decayed_config() : AdamConfig{};
  Stack run;
  build(run, models, c.dtype);
  const Tensor start = run.stacked.flat_values().clone();
  ModelAdam stacked(run.stacked, models, config);
  std::vector<Adam> singles;
  singles.reserve(models);
  for (int m = 0; m < models; ++m) singles.emplace_back(run.singles[m], config);

  // The last model of three stays frozen (rate 0) all along; the others change rates each step.
  auto rate = [&](int m, int step) {
    if (models == 3 && m == 2) return 0.f;
    return 0.01f * float(m + 1) * std::pow(0.8f, float(step));
  };
  const int reset_step = 4, reset_model = models == 3 ? 1 : 0;
  for (int step = 1; step <= 7; ++step) {
    set_gradients(run, models, 100 + step);
    std::vector<float> rates(models);
    for (int m = 0; m < models; ++m) rates[m] = rate(m, step);
    if (models == 1 && step == 1) {
      rates[0] = config.learning_rate;  // one model's first step runs on the constructor's default
    } else {
      stacked.set_learning_rates(rates);
    }
    if (step == reset_step) {
      stacked.reset_model(reset_model);
      singles[reset_model].reset();
    }
    stacked.step();
    for (int m = 0; m < models; ++m) singles[m].step(rates[m]);
  }
  std::vector<std::int64_t> expected_steps(models, 7);
  expected_steps[reset_model] = 7 - reset_step + 1;
  EXPECT_EQ(stacked.steps(), expected_steps);
  for (int m = 0; m < models; ++m) {
    SCOPED_TRACE("model " + std::to_string(m));
    EXPECT_EQ(singles[m].steps(), expected_steps[m]);
    EXPECT_EQ(bits(model_slice(run.stacked, run.stacked.flat_values(), models, m)),
              bits(run.singles[m].flat_values()));
    EXPECT_EQ(bits(model_slice(run.stacked, stacked.first_moment(), models, m)), bits(singles[m].first_moment()));
    EXPECT_EQ(bits(model_slice(run.stacked, stacked.second_moment(), models, m)), bits(singles[m].second_moment()));
  }
  if (models == 3) {
    // Frozen: not one bit of model 2 moved, while the others did.
    EXPECT_EQ(bits(model_slice(run.stacked, run.stacked.flat_values(), models, 2)),
              bits(model_slice(run.stacked, start, models, 2)));
    EXPECT_NE(bits(model_slice(run.stacked, run.stacked.flat_values(), models, 0)),
              bits(model_slice(run.stacked, start, models, 0)));
  }

  // reset() of all, then one more step: everyone restarts at t = 1 again.
  stacked.reset();
  EXPECT_EQ(stacked.steps(), std::vector<std::int64_t>(models, 0));
  for (std::uint64_t b : bits(stacked.first_moment())) ASSERT_EQ(b, 0u);
  for (std::uint64_t b : bits(stacked.second_moment())) ASSERT_EQ(b, 0u);
  set_gradients(run, models, 999);
  std::vector<float> rates(models, 0.02f);
  stacked.set_learning_rates(rates);
  stacked.step();
  for (int m = 0; m < models; ++m) {
    singles[m].reset();
    singles[m].step(rates[m]);
    EXPECT_EQ(bits(model_slice(run.stacked, run.stacked.flat_values(), models, m)),
              bits(run.singles[m].flat_values()))
        << "model " << m << " after reset()";
  }
  EXPECT_EQ(stacked.steps(), std::vector<std::int64_t>(models, 1));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ModelAdamEquivalence,
    ::testing::Values(EquivalenceCase{"OneModelFloat", 1, DType::Float32, false},
                      EquivalenceCase{"OneModelDoubleWeightDecay", 1, DType::Float64, true},
                      EquivalenceCase{"ThreeModelsFloat", 3, DType::Float32, false},
                      EquivalenceCase{"ThreeModelsFloatWeightDecay", 3, DType::Float32, true},
                      EquivalenceCase{"ThreeModelsDouble", 3, DType::Float64, false},
                      EquivalenceCase{"ThreeModelsDoubleWeightDecay", 3, DType::Float64, true}),
    [](const ::testing::TestParamInfo<EquivalenceCase>& info) { return std::string(info.param.name); });

// One model is a stack of one in its own shapes too (Trainer's optimizer): ModelAdam(set, 1) on a
// single-model set equals Adam bit for bit through changing rates and a reset.
TEST(ModelAdam, OneModelInSingleShapesEqualsAdam) {
  Stack run;
  build(run, 1, DType::Float32);
  ParameterSet& set = run.singles[0];
  ParameterSet twin;
  for (const Declared& d : kArchitecture) twin.declare(d.name, make_shape(d.dims));
  twin.allocate(Device::cpu());
  Tensor twin_values = twin.flat_values();
  twin_values.copy_from(set.flat_values());
  const AdamConfig config = decayed_config();
  ModelAdam stacked(set, 1, config);
  Adam single(twin, config);
  for (int step = 1; step <= 5; ++step) {
    Tensor grads = set.flat_grads(), twin_grads = twin.flat_grads();
    grads.copy_from(testing::random_tensor({set.size()}, 50 + step, -2, 2));
    twin_grads.copy_from(grads);
    const float rate = 0.02f * std::pow(0.7f, float(step));
    if (step == 3) {
      stacked.reset();
      single.reset();
    }
    stacked.set_learning_rates({rate});
    stacked.step();
    single.step(rate);
  }
  EXPECT_EQ(stacked.steps(), std::vector<std::int64_t>{3});
  EXPECT_EQ(bits(set.flat_values()), bits(twin.flat_values()));
  EXPECT_EQ(bits(stacked.first_moment()), bits(single.first_moment()));
  EXPECT_EQ(bits(stacked.second_moment()), bits(single.second_moment()));
}

// Resetting model 1 leaves the other models' moments and step counts untouched, and zeroes
// model 1's slice of every parameter (not a contiguous range of the flat buffer).
TEST(ModelAdam, ResetModelTouchesOnlyItsSlices) {
  const int models = 3;
  Stack run;
  build(run, models, DType::Float32);
  ModelAdam adam(run.stacked, models);
  for (int step = 0; step < 2; ++step) {
    set_gradients(run, models, 20 + step);
    adam.step();
  }
  const Tensor m1 = adam.first_moment().clone(), m2 = adam.second_moment().clone();
  adam.reset_model(1);
  EXPECT_EQ(adam.steps(), (std::vector<std::int64_t>{2, 0, 2}));
  for (int m = 0; m < models; ++m) {
    const std::vector<std::uint64_t> first = bits(model_slice(run.stacked, adam.first_moment(), models, m)),
                                     second = bits(model_slice(run.stacked, adam.second_moment(), models, m));
    if (m == 1) {
      for (std::uint64_t b : first) EXPECT_EQ(b, 0u);
      for (std::uint64_t b : second) EXPECT_EQ(b, 0u);
    } else {
      EXPECT_EQ(first, bits(model_slice(run.stacked, m1, models, m)));
      EXPECT_EQ(second, bits(model_slice(run.stacked, m2, models, m)));
      for (std::uint64_t b : first) EXPECT_NE(b, 0u);
    }
  }
}

// A step makes no allocation (the segment table, rates, coefficients and counts are held), so it
// can run in a captured graph; on the CPU this is the same code path minus the launches.
TEST(ModelAdam, StepAllocatesNothing) {
  Stack run;
  build(run, 3, DType::Float32);
  ModelAdam adam(run.stacked, 3);
  adam.set_learning_rates({0.1f, 0.2f, 0.3f});
  const std::uint64_t before = pool_stats(Device::cpu()).requests;
  adam.step();
  adam.step();
  EXPECT_EQ(pool_stats(Device::cpu()).requests, before);
  EXPECT_EQ(adam.steps(), (std::vector<std::int64_t>{2, 2, 2}));
}

// A parameter with no element (a zero width) owns no segment and does not disturb the others.
TEST(ModelAdam, EmptyParameterIsSkipped) {
  ParameterSet stacked, single;
  stacked.declare("w", {2, 3});
  stacked.declare("none", {2, 0});
  stacked.declare("b", {2, 1});
  stacked.allocate(Device::cpu());
  single.declare("w", {3});
  single.declare("b", {1});
  single.allocate(Device::cpu());
  Tensor values = stacked.flat_values(), grads = stacked.flat_grads();
  values.copy_from(Tensor::from_vector(std::vector<float>{1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f, 8.f}, {8}));
  grads.copy_from(Tensor::from_vector(std::vector<float>{0.5f, -1.f, 2.f, 3.f, -4.f, 1.f, -0.25f, 9.f}, {8}));
  Tensor single_values = single.flat_values(), single_grads = single.flat_grads();
  single_values.copy_from(Tensor::from_vector(std::vector<float>{4.f, 5.f, 6.f, 8.f}, {4}));
  single_grads.copy_from(Tensor::from_vector(std::vector<float>{3.f, -4.f, 1.f, 9.f}, {4}));
  ModelAdam adam(stacked, 2);
  adam.set_learning_rates({0.f, 0.5f});
  Adam reference(single);
  adam.step();
  reference.step(0.5f);
  const std::vector<float> after = stacked.flat_values().to_vector(), expected = single.flat_values().to_vector();
  EXPECT_EQ(testing::float_bits(values.view(3, {3})), testing::float_bits(single.flat_values().view(0, {3})));
  EXPECT_EQ(after[7], expected[3]);
  EXPECT_EQ((std::vector<float>(after.begin(), after.begin() + 3)), (std::vector<float>{1.f, 2.f, 3.f}));
  EXPECT_EQ(after[6], 7.f);
}

// The CUDA kernel finds each element's model by this search; checked here against the layout.
TEST(ModelAdam, StackedModelOfFindsEveryElementsModel) {
  const int models = 4;
  const std::vector<std::int64_t> sizes = {5, 1, 3, 1, 1, 12};
  std::vector<std::int64_t> segments;
  std::vector<std::int64_t> expected;
  std::int64_t offset = 0;
  for (std::int64_t size : sizes) {
    segments.push_back(offset);
    segments.push_back(size);
    for (int m = 0; m < models; ++m)
      for (std::int64_t i = 0; i < size; ++i) expected.push_back(m);
    offset += models * size;
  }
  const int count = static_cast<int>(sizes.size());
  for (std::int64_t i = 0; i < offset; ++i)
    ASSERT_EQ(kernels::stacked_model_of(segments.data(), count, i), expected[i]) << "element " << i;
  const std::int64_t one[] = {0, 3};
  EXPECT_EQ(kernels::stacked_model_of(one, 1, 0), 0);
  EXPECT_EQ(kernels::stacked_model_of(one, 1, 8), 2);
}

TEST(ModelAdam, RejectsBadInputWithNames) {
  Stack run;
  build(run, 3, DType::Float32);
  ModelAdam adam(run.stacked, 3);
  testing::expect_invalid_argument_all([&] { adam.set_learning_rates({0.1f, 0.2f}); },
                                       {"learning rates", "expected 3", "got 2"});
  testing::expect_invalid_argument_all([&] { adam.set_learning_rates({0.1f, -0.2f, 0.3f}); },
                                       {"learning rate of model 1", "-0.2"});
  testing::expect_invalid_argument_all([&] { adam.set_learning_rates({0.1f, 0.2f, NAN}); },
                                       {"learning rate of model 2", "nan"});
  testing::expect_invalid_argument_all([&] { adam.set_learning_rates({INFINITY, 0.2f, 0.1f}); },
                                       {"learning rate of model 0"});
  testing::expect_invalid_argument_all([&] { adam.reset_model(3); }, {"reset_model", "model 3", "[0, 3)"});
  testing::expect_invalid_argument_all([&] { adam.reset_model(-1); }, {"reset_model", "model -1"});
  // A rejected call changed nothing: the rates in use are still the default.
  EXPECT_EQ(adam.steps(), std::vector<std::int64_t>(3, 0));

  testing::expect_invalid_argument_all([&] { ModelAdam wrong(run.stacked, 2); },
                                       {"parameter 'w'", "[2, ...]", "[3, 3, 2]"});
  testing::expect_invalid_argument_all([&] { ModelAdam none(run.stacked, 0); }, {"models", "got 0"});
  AdamConfig bad;
  bad.beta1 = 1.f;
  testing::expect_invalid_argument([&] { ModelAdam rejected(run.stacked, 3, bad); }, "beta1");

  ParameterSet mixed;
  mixed.declare("w", {3, 4});
  mixed.declare("b", {4});
  testing::expect_invalid_argument([&] { ModelAdam early(mixed, 3); }, "before allocate()");
  mixed.allocate(Device::cpu());
  testing::expect_invalid_argument_all([&] { ModelAdam stacked_b(mixed, 3); }, {"parameter 'b'", "[3, ...]", "[4]"});
}

TEST(ModelAdam, KernelRejectsBadOperandsWithNames) {
  const Tensor seed_values = testing::random_tensor({6}, 1);
  Tensor p = seed_values.clone(), g = Tensor::zeros({6}), m = Tensor::zeros({6}), v = Tensor::zeros({6});
  Tensor rates = Tensor::full({2}, 0.1), coefficients = Tensor::zeros({2, kernels::kAdamCoefficientFields});
  kernels::Indices steps = kernels::Indices::from_vector({0, 0});
  const kernels::Indices segments = kernels::Indices::from_vector({0, 2, 4, 1});  // [2, 2] then [2, 1]
  const AdamConfig config;
  auto call = [&](Tensor& r, kernels::Indices& s, const kernels::Indices& seg, Tensor& c) {
    kernels::adam_step_models(p, g, m, v, config, r, s, seg, c);
  };
  Tensor bad_rates = Tensor::full({3}, 0.1);
  testing::expect_invalid_argument([&] { call(bad_rates, steps, segments, coefficients); }, "Adam learning rates");
  Tensor double_rates = Tensor::full({2}, 0.1, Device::cpu(), DType::Float64);
  testing::expect_invalid_argument_all([&] { call(double_rates, steps, segments, coefficients); },
                                       {"Adam learning rates", "float32"});
  Tensor bad_coefficients = Tensor::zeros({2, 5});
  testing::expect_invalid_argument([&] { call(rates, steps, segments, bad_coefficients); }, "Adam coefficients");
  const kernels::Indices gap = kernels::Indices::from_vector({0, 2, 5, 1});
  testing::expect_invalid_argument_all([&] { call(rates, steps, gap, coefficients); }, {"Adam segments", "entry 1"});
  const kernels::Indices short_table = kernels::Indices::from_vector({0, 2});
  testing::expect_invalid_argument_all([&] { call(rates, steps, short_table, coefficients); },
                                       {"Adam segments", "cover 4", "6"});
  const kernels::Indices odd = kernels::Indices::from_vector({0, 2, 4});
  testing::expect_invalid_argument([&] { call(rates, steps, odd, coefficients); }, "Adam segments");
  kernels::Indices no_models = kernels::Indices::empty(0);
  testing::expect_invalid_argument([&] { call(rates, no_models, segments, coefficients); }, "Adam step counts");
  // Nothing was touched by the rejected calls.
  EXPECT_EQ(steps.to_vector(), (std::vector<std::int64_t>{0, 0}));
  EXPECT_EQ(testing::float_bits(p), testing::float_bits(seed_values));
  testing::expect_invalid_argument_all([&] { kernels::zero_steps(steps, 1, 2); }, {"step counts", "[1, 3)"});
}

}  // namespace
}  // namespace latf

namespace latf {
namespace {

// A frozen model (rate 0) keeps its weights even when its gradients are not finite, while the
// other models of the stack update from theirs.
TEST(ModelAdamFrozen, NonFiniteGradientsOfAFrozenModelLeaveItsWeights) {
  autodiff::ParameterSet set;
  set.declare("w", Shape{2, 3});
  set.allocate(Device::cpu());
  set.flat_values().copy_from(testing::random_tensor({6}, 1));
  const std::vector<float> before = set.flat_values().to_vector();
  std::vector<float> grads = {0.5f, -0.5f, 0.25f, NAN, INFINITY, NAN};  // model 1's are not finite
  set.flat_grads().copy_from(Tensor::from_vector(grads, {6}));
  autodiff::ModelAdam adam(set, 2);
  adam.set_learning_rates({0.1f, 0.f});
  adam.step();
  const std::vector<float> after = set.flat_values().to_vector();
  for (int i = 0; i < 3; ++i) EXPECT_NE(after[i], before[i]) << i;   // model 0 moved
  for (int i = 3; i < 6; ++i) EXPECT_EQ(after[i], before[i]) << i;   // model 1 did not, and is finite
}

}  // namespace
}  // namespace latf
