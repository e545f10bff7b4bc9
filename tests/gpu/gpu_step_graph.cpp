// StepGraphs on a CUDA device: a recorded step replays (its host code runs once), and a step
// that synchronises with the host cannot be recorded and says why.
#include <gtest/gtest.h>

#include "engine/step_graph.hpp"
#include "kernels/elementwise.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

TEST(GpuStepGraphs, ARecordedStepReplaysWithoutItsHostCode) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  const Tensor x = testing::random_tensor({1000}, 1).to(gpu);
  Tensor y = Tensor::zeros({1000}, gpu);
  StepGraphs graphs(gpu);
  int host_calls = 0;
  for (int i = 0; i < 5; ++i)
    graphs.run(1000, [&] {
      ++host_calls;
      Tensor scratch = Tensor::empty({1000}, gpu);  // a temporary released inside the step
      kernels::axpby(2.0, x, 0.0, x, scratch);
      kernels::accumulate_scaled(0.5, scratch, y);  // y += x
    });
  EXPECT_EQ(host_calls, 1);
  EXPECT_EQ(graphs.graphs(), 1u);
  const std::vector<float> expected_x = x.to_vector(), got = y.to_vector();
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_FLOAT_EQ(got[i], 5 * expected_x[i]) << i;
}

TEST(GpuStepGraphs, AStepThatReadsTheDeviceCannotBeRecorded) {
  LATF_SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  const Tensor x = Tensor::full({1}, 3.0, gpu);
  StepGraphs graphs(gpu);
  try {
    graphs.run(1, [&] { (void)x.item(); });
    FAIL() << "expected the recording to fail";
  } catch (const GraphRecordingError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be recorded as a CUDA Graph"), std::string::npos) << e.what();
  }
  EXPECT_EQ(graphs.graphs(), 0u);
  EXPECT_EQ(x.item(), 3.f);  // the device is usable afterwards
}

}  // namespace
}  // namespace latf
