// The single-model Trainer on a CUDA device: its steps replay as CUDA Graphs (models/device_steps.hpp)
// and give exactly what the same training queued op by op gives, through a label refinement (new
// decoder, new optimizers: the recorded steps must be dropped and recorded again).
#include <gtest/gtest.h>

#include <cmath>

#include "models/trainer.hpp"
#include "tests/stacked_support.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

TEST(GpuTrainerGraphs, GraphReplayEqualsOpByOpThroughARefinement) {
  LATF_SKIP_WITHOUT_GPU();
  const models::LatfConfig config = testing::refining_config(1);
  auto a = testing::small_dataset(config), b = testing::small_dataset(config);
  models::Trainer graphs(config, a, Device::cuda(0)), eager(config, b, Device::cuda(0));
  EXPECT_FALSE(graphs.step_checks());  // the GPU default: what lets the steps replay
  eager.set_graphs(false);
  graphs.train();
  eager.train();
  EXPECT_EQ(graphs.graph_fallback(), "") << "the steps were not replayed as graphs";
  ASSERT_EQ(graphs.history().size(), eager.history().size());
  int rounds = 0;
  for (std::size_t e = 0; e < graphs.history().size(); ++e) {
    const auto &x = graphs.history()[e], &y = eager.history()[e];
    EXPECT_EQ(x.states, y.states) << "epoch record " << e;
    EXPECT_EQ(x.train.total, y.train.total) << "epoch record " << e;  // the same kernels in the same order
    EXPECT_EQ(x.validation.total, y.validation.total) << "epoch record " << e;
    rounds = std::max(rounds, x.round);
  }
  EXPECT_EQ(rounds, 1) << "the refinement did not happen: the test would not cover re-recording";
  EXPECT_EQ(testing::float_bits(graphs.model().spib->parameters().flat_values().to(Device::cpu())),
            testing::float_bits(eager.model().spib->parameters().flat_values().to(Device::cpu())));
  EXPECT_EQ(testing::float_bits(graphs.model().flow->parameters().flat_values().to(Device::cpu())),
            testing::float_bits(eager.model().flow->parameters().flat_values().to(Device::cpu())));
}

TEST(GpuTrainerGraphs, FollowsTheCpuCourse) {
  LATF_SKIP_WITHOUT_GPU();
  const models::LatfConfig config = testing::refining_config(1);
  auto a = testing::small_dataset(config), b = testing::small_dataset(config);
  models::Trainer gpu(config, a, Device::cuda(0)), cpu(config, b, Device::cpu());
  gpu.train_phase(models::Phase::Spib);
  cpu.train_phase(models::Phase::Spib);
  ASSERT_EQ(gpu.history().size(), cpu.history().size());
  for (std::size_t e = 0; e < gpu.history().size(); ++e) {
    const double expected = cpu.history()[e].train.total;
    EXPECT_NEAR(gpu.history()[e].train.total, expected, 2e-3 * (1 + std::abs(expected))) << "epoch record " << e;
    EXPECT_EQ(gpu.history()[e].states, cpu.history()[e].states) << "epoch record " << e;
  }
}

}  // namespace
}  // namespace latf
