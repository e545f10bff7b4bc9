#include <string>
#include <vector>

#include "autodiff/optimizer.hpp"
#include "engine/memory.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::ModelAdam;
using autodiff::ParameterSet;

struct Case {
  const char* name;
  int models;
  float weight_decay;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class GpuModelAdam : public ::testing::TestWithParam<Case> {};

// Parameters of uneven per-model sizes (a scalar per model, widths that are multiples of
// nothing, one large enough for many blocks), so the device segment search meets every case.
void declare_stacked(ParameterSet& set, int models) {
  set.declare("w1", {models, 37, 29});
  set.declare("b1", {models, 29});
  set.declare("scale", {models});
  set.declare("w2", {models, 29, 3});
  set.declare("big", {models, 40000});
  set.declare("b2", {models, 3});
}

// The same run (per-model rates, a frozen model, reset_model mid-run, reset of all) on the CPU
// and on CUDA: values, moments and step counts agree.
TEST_P(GpuModelAdam, RunMatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const Case c = GetParam();
  kernels::AdamConfig config;
  config.weight_decay = c.weight_decay;
  ParameterSet sets[2];
  Tensor start;
  std::vector<std::int64_t> steps[2];
  Tensor values[2], first[2], second[2];
  for (int run = 0; run < 2; ++run) {
    const Device device = run == 0 ? Device::cpu() : Device::cuda(0);
    ParameterSet& set = sets[run];
    declare_stacked(set, c.models);
    set.allocate(device);
    if (run == 0) start = testing::random_tensor({set.size()}, 5);
    Tensor flat_values = set.flat_values(), flat_grads = set.flat_grads();
    flat_values.copy_from(start);
    ModelAdam adam(set, c.models, config);
    for (int step = 1; step <= 8; ++step) {
      flat_grads.copy_from(testing::random_tensor({set.size()}, 50 + step, -3, 3));
      std::vector<float> rates(c.models);
      for (int m = 0; m < c.models; ++m) rates[m] = m == c.models - 1 && c.models > 1 ? 0.f : 0.01f * (m + 1) / step;
      adam.set_learning_rates(rates);
      if (step == 5) adam.reset_model(0);
      adam.step();
    }
    steps[run] = adam.steps();
    values[run] = set.flat_values().to(Device::cpu());
    first[run] = adam.first_moment().to(Device::cpu());
    second[run] = adam.second_moment().to(Device::cpu());
    if (c.models > 1) {
      // The frozen last model: every bit of its slice of "big" is where it started.
      const std::int64_t big_offset = set.offset(set.index("big")), last = (c.models - 1) * 40000;
      EXPECT_EQ(testing::float_bits(values[run].view(big_offset + last, {40000})),
                testing::float_bits(start.view(big_offset + last, {40000})))
          << device.str();
    }
    adam.reset();
    EXPECT_EQ(adam.steps(), std::vector<std::int64_t>(c.models, 0)) << device.str();
    for (float m : adam.first_moment().to_vector()) ASSERT_EQ(m, 0.f);
  }
  EXPECT_EQ(steps[1], steps[0]);
  EXPECT_LT(testing::max_relative_error(values[1], values[0]), 1e-5);
  EXPECT_LT(testing::max_relative_error(first[1], first[0]), 1e-5);
  EXPECT_LT(testing::max_relative_error(second[1], second[0]), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Cases, GpuModelAdam,
                         ::testing::Values(Case{"OneModel", 1, 0.f}, Case{"FiveModels", 5, 0.f},
                                           Case{"FiveModelsWeightDecay", 5, 0.05f}),
                         [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// A device step allocates nothing from the pool and reads nothing back: what a CUDA Graph
// capture of it needs.
TEST(GpuModelAdam, StepAllocatesNothing) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  ParameterSet set;
  declare_stacked(set, 3);
  set.allocate(gpu);
  ModelAdam adam(set, 3);
  adam.set_learning_rates({0.1f, 0.f, 0.2f});
  const std::uint64_t device_before = pool_stats(gpu).requests, host_before = pool_stats(Device::cpu()).requests;
  for (int i = 0; i < 3; ++i) adam.step();
  EXPECT_EQ(pool_stats(gpu).requests, device_before);
  EXPECT_EQ(pool_stats(Device::cpu()).requests, host_before);
  EXPECT_EQ(adam.steps(), (std::vector<std::int64_t>{3, 3, 3}));
}

}  // namespace
}  // namespace latf
