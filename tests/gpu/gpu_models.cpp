// CPU and CUDA training runs of the whole LaTF model from one seed agree.
#include "models/inference.hpp"
#include "models/trainer.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

models::Dataset small_dataset() {
  std::vector<models::Trajectory> trajectories;
  for (int k = 0; k < 2; ++k) {
    models::Trajectory t;
    t.frames = testing::random_tensor({2000, 3}, 10 + k, -2, 2);
    t.temperature = k == 0 ? 1.0 : 2.0;
    t.name = "random " + std::to_string(k);
    t.labels.resize(2000);
    for (int i = 0; i < 2000; ++i) t.labels[i] = (i / 100) % 4;
    trajectories.push_back(t);
  }
  models::DatasetOptions options;
  options.lag = 5;
  return models::Dataset::build(trajectories, options);
}

TEST(GpuTraining, CpuAndCudaRunsFromOneSeedAgree) {
  LATF_SKIP_WITHOUT_GPU();
  models::LatfConfig config;
  config.lag = 5;
  config.spib_phase = {256, 1e-3, 0.99, 0.0, 100, 0, 3};  // three epochs, no refinement
  config.joint_phase = {256, 1e-3, 0.99, 0.0, 100, 0, 3};
  config.flow.layers = 4;
  models::Dataset cpu_data = small_dataset(), gpu_data = small_dataset();
  models::Trainer cpu(config, cpu_data, Device::cpu());
  models::Trainer gpu(config, gpu_data, Device::cuda(0));
  cpu.train();
  gpu.train();
  ASSERT_EQ(cpu.history().size(), gpu.history().size());
  for (std::size_t e = 0; e < cpu.history().size(); ++e) {
    const double a = cpu.history()[e].train.total, b = gpu.history()[e].train.total;
    EXPECT_NEAR(b, a, 1e-3 * std::max(1.0, std::abs(a))) << "epoch " << e;
  }
  const Tensor frames = testing::random_tensor({500, 3}, 99, -2, 2);
  const auto x = models::encode_frames(cpu.model(), frames), y = models::encode_frames(gpu.model(), frames);
  EXPECT_LT(testing::max_relative_error(y.latent_mean, x.latent_mean), 1e-3);
}

}  // namespace
}  // namespace latf
