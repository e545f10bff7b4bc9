// models::DeviceSteps, the graph-ready training step both trainers run: the GPU's bookkeeping (no
// per-step reads, losses summed on the device) followed on the CPU through a label refinement that
// drops states (new decoder, new optimizers, narrower targets: the kept step buffers must be
// dropped), and the step's bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "models/device_steps.hpp"
#include "models/trainer.hpp"
#include "tests/stacked_support.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

TEST(DeviceSteps, EpochEndReadsFollowPerStepReadsThroughRefinements) {
  const models::LatfConfig config = testing::refining_config(2);
  auto a = testing::small_dataset(config), b = testing::small_dataset(config);
  models::Trainer per_step(config, a, Device::cpu()), once(config, b, Device::cpu());
  once.set_step_checks(false);
  per_step.train();
  once.train();
  ASSERT_EQ(once.history().size(), per_step.history().size());
  bool dropped = false;
  for (std::size_t e = 0; e < per_step.history().size(); ++e) {
    const auto &x = per_step.history()[e], &y = once.history()[e];
    EXPECT_EQ(y.states, x.states) << "epoch record " << e;
    EXPECT_EQ(y.round, x.round) << "epoch record " << e;
    EXPECT_NEAR(y.train.total, x.train.total, 1e-5 * std::max(1.0, std::abs(x.train.total))) << "epoch record " << e;
    EXPECT_NEAR(y.validation.total, x.validation.total, 1e-5 * std::max(1.0, std::abs(x.validation.total)))
        << "epoch record " << e;
    dropped = dropped || x.states < config.spib.initial_states;
  }
  EXPECT_TRUE(dropped) << "no refinement dropped a state: the test would not cover narrower targets";
  // The same weights: one course, read two ways.
  const std::vector<float> p = per_step.model().spib->parameters().flat_values().to_vector();
  const std::vector<float> q = once.model().spib->parameters().flat_values().to_vector();
  ASSERT_EQ(p.size(), q.size());
  for (std::size_t i = 0; i < p.size(); ++i) ASSERT_EQ(p[i], q[i]) << "parameter element " << i;
}

// A step key (phase, training, full or last batch) seen again with another row count — a caller
// that changes the batch size — gets fresh buffers, not the old ones: its loss equals a fresh
// DeviceSteps' first step of that size.
TEST(DeviceSteps, AKeySeenWithOtherRowsRebuildsItsBuffers) {
  const models::LatfConfig config = testing::base_config();
  auto dataset = testing::small_dataset(config);
  dataset.place_on(Device::cpu());
  const models::LatfModel model = models::LatfModel::create(config, dataset.descriptors(), dataset.states(),
                                                            dataset.normalization(), 1.0, Device::cpu());
  const models::DeviceSteps::LossBuilder loss = [&](autodiff::Tape& tape, const models::BatchVars& vars) {
    return models::latf_loss(tape, *model.spib, *model.flow, models::Phase::Spib, vars, config.spib.beta, 1.0);
  };
  const auto first_loss = [&](models::DeviceSteps& steps, std::int64_t rows) {
    steps.begin_epoch(models::Split::Validation, {}, {7}, dataset.states());
    steps.step(models::Phase::Spib, false, rows, rows, 0.5, loss, {});
    return steps.tape().value(steps.losses().total).item();
  };
  const auto data = models::DeviceSteps::data_of(dataset, config.spib.latent_dim);
  models::DeviceSteps reused(data, Device::cpu(), {config.seed}, true), fresh(data, Device::cpu(), {config.seed}, true);
  (void)first_loss(reused, 64);
  EXPECT_EQ(first_loss(reused, 32), first_loss(fresh, 32));
}

TEST(DeviceSteps, RejectsBadInputWithNames) {
  const models::LatfConfig config = testing::base_config();
  auto dataset = testing::small_dataset(config);
  dataset.place_on(Device::cpu());
  const auto data = models::DeviceSteps::data_of(dataset, config.spib.latent_dim);
  testing::expect_invalid_argument([&] { models::DeviceSteps none(data, Device::cpu(), {}, false); },
                                   "at least one model");
  testing::expect_invalid_argument([&] { models::DeviceSteps two(data, Device::cpu(), {1, 2}, true); },
                                   "single form takes one model, got 2");
  models::DeviceSteps steps(data, Device::cpu(), {1, 2}, false);
  testing::expect_invalid_argument_all([&] { steps.set_labels(2, dataset.frame_labels()); }, {"model 2", "[0, 2)"});
  testing::expect_invalid_argument_all([&] { steps.set_labels(0, {0, 1}); }, {"labels of model 0", "got 2"});
  testing::expect_invalid_argument_all([&] { steps.begin_epoch(models::Split::Train, {}, {5}, 6); },
                                       {"expected 2 noise streams", "got 1"});
  testing::expect_invalid_argument_all([&] { steps.begin_epoch(models::Split::Train, {0}, {5, 6}, 6); },
                                       {"expected 2 shuffles or none", "got 1"});
  testing::expect_invalid_argument([&] { (void)steps.losses(); }, "no step has run");
  steps.set_step_checks(true, false);
  testing::expect_invalid_argument([&] { (void)steps.read_sums(); }, "only without per-step checks");
}

}  // namespace
}  // namespace latf
