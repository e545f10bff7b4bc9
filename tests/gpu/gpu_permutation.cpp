// CPU vs CUDA for the device-resident training pipeline: the seeded permutation, the batch
// gather, and whole trainer epochs (losses read once per epoch on the GPU).
#include <cmath>
#include <string>
#include <vector>

#include "kernels/gather.hpp"
#include "kernels/permutation.hpp"
#include "models/dataset.hpp"
#include "models/trainer.hpp"
#include "tests/support.hpp"
#include "tests/trainer_support.hpp"

namespace latf {
namespace {

using models::Dataset;
using models::Split;

TEST(GpuPermutation, SameOrderAsCpu) {
  LATF_SKIP_WITHOUT_GPU();
  for (std::int64_t n : {1ll, 2ll, 3ll, 1000ll, (1ll << 20) + 7}) {
    kernels::Indices cpu = kernels::Indices::empty(n), gpu = kernels::Indices::empty(n, Device::cuda(0));
    kernels::permutation(cpu, 123, 10'007);
    kernels::permutation(gpu, 123, 10'007);
    EXPECT_EQ(gpu.to_vector(), cpu.to_vector()) << "n = " << n;
  }
}

TEST(GpuPermutation, IndicesRoundTripThroughTheDevice) {
  LATF_SKIP_WITHOUT_GPU();
  const std::vector<std::int64_t> values = {3, (1ll << 42) + 5, -7, 0, 11};
  const kernels::Indices gpu = kernels::Indices::from_vector(values, Device::cuda(0));
  EXPECT_EQ(gpu.to_vector(), values);
  EXPECT_EQ(gpu.to(Device::cpu()).to_vector(), values);
  EXPECT_EQ(kernels::Indices::from_vector(values).to(Device::cuda(0)).to_vector(), values);
}

std::vector<models::Trajectory> trajectories(std::int64_t frames, std::int64_t descriptors, int states) {
  std::vector<models::Trajectory> out;
  for (int k = 0; k < 2; ++k) {
    models::Trajectory t;
    t.frames = testing::random_tensor({frames + 13 * k, descriptors}, 40 + k, -2, 2);
    t.temperature = 1.0 + k;
    for (std::int64_t i = 0; i < t.frames.dim(0); ++i) {
      t.labels.push_back((i / 7 + k) % states);
      t.weights.push_back(0.5f + static_cast<float>(i % 3));
    }
    out.push_back(std::move(t));
  }
  return out;
}

Dataset make_dataset(std::int64_t frames, std::int64_t descriptors, int states, int lag) {
  models::DatasetOptions options;
  options.lag = lag;
  options.seed = 2;
  return Dataset::build(trajectories(frames, descriptors, states), options);
}

// The placed GPU copy gathers exactly what the CPU copy gathers, for a permuted training slice
// (including a last, partial batch) and a validation slice; relabelling reaches the device.
TEST(GpuGather, MatchesCpu) {
  LATF_SKIP_WITHOUT_GPU();
  Dataset cpu = make_dataset(3000, 5, 7, 3), gpu = make_dataset(3000, 5, 7, 3);
  gpu.place_on(Device::cuda(0));
  const std::int64_t n = cpu.pairs(Split::Train);
  kernels::Indices order_cpu = kernels::Indices::empty(n), order_gpu = kernels::Indices::empty(n, Device::cuda(0));
  kernels::permutation(order_cpu, 9, 10'000);
  kernels::permutation(order_gpu, 9, 10'000);
  for (int round = 0; round < 2; ++round) {
    for (const auto& [start, rows] : {std::pair<std::int64_t, std::int64_t>{0, 512}, {n - 37, 37}, {100, 1}}) {
      models::Batch a, b;
      cpu.gather(Split::Train, order_cpu, start, rows, a);
      gpu.gather(Split::Train, order_gpu, start, rows, b);
      ASSERT_TRUE(b.inputs.device().is_cuda());
      EXPECT_EQ(b.inputs.to_vector(), a.inputs.to_vector()) << "start " << start;
      EXPECT_EQ(b.targets.to_vector(), a.targets.to_vector()) << "start " << start;
      EXPECT_EQ(b.weights.to_vector(), a.weights.to_vector());
      EXPECT_EQ(b.inverse_temperature.to_vector(), a.inverse_temperature.to_vector());
    }
    models::Batch a, b;
    cpu.gather(Split::Validation, kernels::Indices(), 3, 200, a);
    gpu.gather(Split::Validation, kernels::Indices(), 3, 200, b);
    EXPECT_EQ(b.inputs.to_vector(), a.inputs.to_vector());
    EXPECT_EQ(b.targets.to_vector(), a.targets.to_vector());
    // Second round: after a relabel to fewer states.
    std::vector<std::int64_t> labels(cpu.frames());
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i % 3);
    cpu.relabel(labels, 3);
    gpu.relabel(labels, 3);
  }
}

models::LatfConfig small_config() {
  models::LatfConfig config;
  config.lag = 3;
  config.spib.latent_dim = 2;
  config.spib_phase.batch_size = 64;
  config.spib_phase.max_epochs = 2;
  config.spib_phase.refinements = 1;
  config.joint_phase.batch_size = 64;
  config.joint_phase.max_epochs = 2;
  config.joint_phase.refinements = 0;
  config.flow.layers = 2;
  return config;
}

// Whole epochs on the GPU (shuffled and gathered there, losses summed there and read once) follow
// the CPU's loss curve: same order, same noise, float32 arithmetic on both.
TEST(GpuDeviceResidentTraining, FollowsCpuEpochLosses) {
  LATF_SKIP_WITHOUT_GPU();
  const models::LatfConfig config = small_config();
  Dataset a = make_dataset(1500, 4, 5, 3), b = make_dataset(1500, 4, 5, 3);
  models::Trainer cpu(config, a, Device::cpu()), gpu(config, b, Device::cuda(0));
  cpu.train();
  gpu.train();
  ASSERT_EQ(gpu.history().size(), cpu.history().size());
  for (std::size_t e = 0; e < cpu.history().size(); ++e) {
    const auto &x = cpu.history()[e], &y = gpu.history()[e];
    EXPECT_NEAR(y.train.total, x.train.total, 2e-3 * std::max(1.0, std::abs(x.train.total))) << "epoch record " << e;
    EXPECT_NEAR(y.validation.total, x.validation.total, 2e-3 * std::max(1.0, std::abs(x.validation.total)))
        << "epoch record " << e;
    EXPECT_EQ(y.states, x.states);
  }
}

// A NaN on the GPU is found at the epoch's end: the error names the phase and the epoch, and the
// weights are rolled back to the last completed epoch before the hook runs.
TEST(GpuDeviceResidentTraining, DivergenceAtTheEpochEndRollsBack) {
  LATF_SKIP_WITHOUT_GPU();
  models::LatfConfig config = small_config();
  config.spib_phase.refinements = 0;
  config.joint_phase.learning_rate = 1e30;
  Dataset ds = make_dataset(800, 3, 4, 3);
  models::Trainer trainer(config, ds, Device::cuda(0));
  bool hook_called = false;
  trainer.set_divergence_hook([&] { hook_called = true; });
  const testing::Divergence run = testing::train_until_divergence(trainer);
  ASSERT_FALSE(run.error.empty()) << "expected divergence";
  EXPECT_NE(run.error.find("training diverged in the joint phase, epoch 0"), std::string::npos) << run.error;
  EXPECT_NE(run.error.find("epoch's end"), std::string::npos) << run.error;
  EXPECT_TRUE(hook_called);
  ASSERT_FALSE(run.spib_at_end.empty());
  EXPECT_EQ(trainer.model().spib->parameters().flat_values().to_vector(), run.spib_at_end);
  EXPECT_EQ(trainer.model().flow->parameters().flat_values().to_vector(), run.flow_at_end);
}

// An epoch's steady state allocates nothing new on the device (batches, order and sums pooled).
TEST(GpuDeviceResidentTraining, LaterEpochsMakeNoCudaMalloc) {
  LATF_SKIP_WITHOUT_GPU();
  models::LatfConfig config = small_config();
  config.spib_phase.refinements = 0;
  config.spib_phase.max_epochs = 3;
  Dataset ds = make_dataset(1500, 4, 5, 3);
  models::Trainer trainer(config, ds, Device::cuda(0));
  std::uint64_t after_first = 0, after_last = 0;
  trainer.train_phase(models::Phase::Spib, [&](const models::EpochRecord& r) {
    if (r.epoch == 0) after_first = pool_stats(Device::cuda(0)).raw_allocations;
    after_last = pool_stats(Device::cuda(0)).raw_allocations;
  });
  EXPECT_EQ(after_last, after_first);
}

}  // namespace
}  // namespace latf
