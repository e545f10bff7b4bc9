// Batched models on a CUDA device: the stacked trainer with its steps replayed as CUDA Graphs
// equals the same training queued op by op, and follows the CPU's course.
#include <gtest/gtest.h>

#include <cmath>

#include "models/stacked_trainer.hpp"
#include "tests/stacked_support.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using models::StackedTrainer;

void expect_same_histories(const StackedTrainer& a, const StackedTrainer& b, double tolerance, const std::string& what) {
  for (int m = 0; m < a.models(); ++m) {
    ASSERT_EQ(a.history(m).size(), b.history(m).size()) << what << " model " << m;
    for (std::size_t e = 0; e < a.history(m).size(); ++e) {
      const auto& x = a.history(m)[e];
      const auto& y = b.history(m)[e];
      EXPECT_EQ(x.states, y.states) << what << " model " << m << " epoch " << e;
      EXPECT_NEAR(x.train.total, y.train.total, tolerance * (1 + std::abs(y.train.total)))
          << what << " model " << m << " epoch " << e;
      EXPECT_NEAR(x.validation.total, y.validation.total, tolerance * (1 + std::abs(y.validation.total)))
          << what << " model " << m << " epoch " << e;
    }
  }
}

TEST(GpuStackedTrainer, GraphReplayEqualsOpByOp) {
  LATF_SKIP_WITHOUT_GPU();
  const auto configs = testing::varied_configs();
  auto a = testing::small_dataset(configs[0]), b = testing::small_dataset(configs[0]);
  StackedTrainer graphs(configs, a, Device::cuda(0)), eager(configs, b, Device::cuda(0));
  eager.set_graphs(false);
  graphs.train();
  eager.train();
  EXPECT_EQ(graphs.graph_fallback(), "") << "the steps were not replayed as graphs";
  expect_same_histories(graphs, eager, 0.0, "graphs vs op by op");  // the same kernels in the same order
  for (int m = 0; m < graphs.models(); ++m)
    EXPECT_EQ(testing::float_bits(graphs.model(m).spib->parameters().flat_values().to(Device::cpu())),
              testing::float_bits(eager.model(m).spib->parameters().flat_values().to(Device::cpu())))
        << "model " << m;
}

TEST(GpuStackedTrainer, FollowsTheCpuCourse) {
  LATF_SKIP_WITHOUT_GPU();
  const auto configs = testing::varied_configs();
  auto a = testing::small_dataset(configs[0]), b = testing::small_dataset(configs[0]);
  StackedTrainer gpu(configs, a, Device::cuda(0)), cpu(configs, b, Device::cpu());
  gpu.train_phase(models::Phase::Spib);
  cpu.train_phase(models::Phase::Spib);
  expect_same_histories(gpu, cpu, 2e-3, "CUDA vs CPU");
}

}  // namespace
}  // namespace latf
