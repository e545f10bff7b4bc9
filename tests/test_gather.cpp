// The device-side batch gather (kernels/gather.hpp), the Dataset's placed copy that feeds it, and
// the trainer's device-resident epoch (permuted order, rolled-back weights on divergence).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/gather.hpp"
#include "models/dataset.hpp"
#include "models/trainer.hpp"
#include "tests/support.hpp"
#include "tests/trainer_support.hpp"

namespace latf {
namespace {

using models::Dataset;
using models::DatasetOptions;
using models::Split;
using models::Trajectory;

// Two trajectories, D descriptors, labels cycling through `states` values with a stride that
// makes neighbouring frames differ, weights and temperatures that differ per frame.
std::vector<Trajectory> trajectories(std::int64_t descriptors, int states) {
  std::vector<Trajectory> out;
  for (int k = 0; k < 2; ++k) {
    const std::int64_t frames = 37 + 11 * k;
    Trajectory t;
    t.frames = testing::random_tensor({frames, descriptors}, 100 + k, -3, 3);
    t.temperature = 1.0 + 0.5 * k;
    t.name = "traj" + std::to_string(k);
    for (std::int64_t i = 0; i < frames; ++i) {
      t.labels.push_back((i * 3 + k) % states);
      t.weights.push_back(0.25f + static_cast<float>((i * 7) % 5));
    }
    out.push_back(std::move(t));
  }
  return out;
}

Dataset make_dataset(std::int64_t descriptors, int states, int lag) {
  DatasetOptions options;
  options.lag = lag;
  options.validation_fraction = 0.3;
  options.seed = 5;
  return Dataset::build(trajectories(descriptors, states), options);
}

// The batch written out independently: double loops over the Dataset's public accessors.
struct Expected {
  std::vector<double> inputs, targets, weights, inverse_temperature;
};

Expected reference(const Dataset& ds, const std::vector<std::int64_t>& pairs) {
  Expected e;
  const auto x = ds.inputs().to_double_vector();
  const std::int64_t d = ds.descriptors();
  for (std::int64_t p : pairs) {
    const std::int64_t t = ds.present(p), future = ds.future(p);
    for (std::int64_t j = 0; j < d; ++j) e.inputs.push_back(x[t * d + j]);
    for (int k = 0; k < ds.states(); ++k) e.targets.push_back(ds.frame_labels()[future] == k ? 1.0 : 0.0);
    e.weights.push_back(ds.frame_weights()[t]);
    e.inverse_temperature.push_back(ds.frame_inverse_temperature()[t]);
  }
  return e;
}

void expect_batch(const models::Batch& batch, const Expected& e) {
  EXPECT_EQ(batch.inputs.to_double_vector(), e.inputs);
  EXPECT_EQ(batch.targets.to_double_vector(), e.targets);
  EXPECT_EQ(batch.weights.to_double_vector(), e.weights);
  EXPECT_EQ(batch.inverse_temperature.to_double_vector(), e.inverse_temperature);
}

struct Case {
  std::int64_t descriptors;
  int states, lag;
  std::int64_t start, rows;
};

class GatherPairs : public ::testing::TestWithParam<Case> {};

// Rows [start, start + rows) of a permuted training order, against the reference.
TEST_P(GatherPairs, PermutedSliceMatchesReference) {
  const Case c = GetParam();
  Dataset ds = make_dataset(c.descriptors, c.states, c.lag);
  const std::int64_t n = ds.pairs(Split::Train);
  ASSERT_LE(c.start + c.rows, n);
  kernels::Indices order = kernels::Indices::empty(n);
  kernels::permutation(order, 3, 10'000);
  models::Batch batch;
  ds.gather(Split::Train, order, c.start, c.rows, batch);
  const auto perm = order.to_vector();
  std::vector<std::int64_t> pairs;
  for (std::int64_t r = 0; r < c.rows; ++r) pairs.push_back(ds.train_pairs()[perm[c.start + r]]);
  expect_batch(batch, reference(ds, pairs));
}

// Validation keeps the split's own order (no permutation).
TEST_P(GatherPairs, UnpermutedValidationSlice) {
  const Case c = GetParam();
  Dataset ds = make_dataset(c.descriptors, c.states, c.lag);
  const std::int64_t n = ds.pairs(Split::Validation), rows = std::min<std::int64_t>(c.rows, n - 1), start = n - rows;
  models::Batch batch;
  ds.gather(Split::Validation, kernels::Indices(), start, rows, batch);
  std::vector<std::int64_t> pairs(ds.validation_pairs().begin() + start, ds.validation_pairs().end());
  expect_batch(batch, reference(ds, pairs));
}

INSTANTIATE_TEST_SUITE_P(Shapes, GatherPairs,
                         ::testing::Values(Case{1, 2, 1, 0, 1}, Case{3, 5, 2, 7, 13}, Case{16, 10, 4, 0, 40},
                                           Case{7, 3, 9, 20, 1}, Case{2, 2, 1, 50, 6}),
                         [](const auto& info) {
                           const Case& c = info.param;
                           return "d" + std::to_string(c.descriptors) + "_k" + std::to_string(c.states) + "_lag" +
                                  std::to_string(c.lag) + "_rows" + std::to_string(c.rows);
                         });

// The span gather (the CPU path tests and tools use) goes through the same kernel.
TEST(GatherPairs, SpanGatherMatchesReference) {
  Dataset ds = make_dataset(4, 3, 2);
  const std::vector<std::int64_t> pairs = {0, 5, 5, 30, 2};
  models::Batch batch;
  ds.gather(pairs, batch);
  expect_batch(batch, reference(ds, pairs));
  testing::expect_invalid_argument([&] { ds.gather(std::vector<std::int64_t>{1000}, batch); }, "pair 1000");
}

// Refined labels reach the placed copy the trainer gathers from.
TEST(GatherPairs, RelabelUpdatesThePlacedLabels) {
  Dataset ds = make_dataset(2, 4, 1);
  ds.place_on(Device::cpu());
  std::vector<std::int64_t> labels(ds.frames());
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>((i / 3) % 2);
  ds.relabel(labels, 2);
  models::Batch batch;
  ds.gather(Split::Train, kernels::Indices(), 0, 10, batch);
  std::vector<std::int64_t> pairs(ds.train_pairs().begin(), ds.train_pairs().begin() + 10);
  ASSERT_EQ(batch.targets.shape(), (Shape{10, 2}));
  expect_batch(batch, reference(ds, pairs));
}

// A hand-built source: lag 0, frame labels straight, and the batch tensors reused across calls.
TEST(GatherPairs, KernelOnHandBuiltSource) {
  kernels::PairSource s;
  s.frames = Tensor::from_vector(std::vector<float>{0, 1, 10, 11, 20, 21}, {3, 2});
  s.labels = kernels::Indices::from_vector({2, 0, 1});
  s.weights = Tensor::from_vector(std::vector<float>{0.5f, 1.5f, 2.5f}, {3});
  s.inverse_temperature = Tensor::from_vector(std::vector<float>{1, 0.5f, 0.25f}, {3});
  s.present = kernels::Indices::from_vector({2, 1, 0});
  s.lag = 0;
  s.states = 3;
  kernels::PairBatch batch;
  kernels::resize_pair_batch(s, 2, batch);
  const float* before = batch.inputs.data<float>();
  kernels::gather_pairs(s, kernels::Indices::from_vector({1, 0, 2}), 1, batch);  // pairs 0, 2 → frames 2, 0
  EXPECT_EQ(batch.inputs.to_vector(), (std::vector<float>{20, 21, 0, 1}));
  EXPECT_EQ(batch.targets.to_vector(), (std::vector<float>{0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(batch.weights.to_vector(), (std::vector<float>{2.5f, 0.5f}));
  EXPECT_EQ(batch.inverse_temperature.to_vector(), (std::vector<float>{0.25f, 1}));
  kernels::resize_pair_batch(s, 2, batch);
  EXPECT_EQ(batch.inputs.data<float>(), before) << "a batch of the right shape is reused, not reallocated";
}

TEST(GatherPairs, BadInputIsNamed) {
  kernels::PairSource s;
  s.frames = Tensor::zeros({4, 2});
  s.labels = kernels::Indices::from_vector({0, 1, 0, 1});
  s.weights = Tensor::zeros({4});
  s.inverse_temperature = Tensor::zeros({4});
  s.present = kernels::Indices::from_vector({0, 1, 2});
  s.lag = 1;
  s.states = 2;
  kernels::PairBatch batch;
  kernels::resize_pair_batch(s, 2, batch);
  const kernels::Indices none;
  auto with = [&](auto edit) {
    kernels::PairSource bad = s;
    kernels::PairBatch b = batch;
    edit(bad, b);
    kernels::gather_pairs(bad, none, 0, b);
  };
  using S = kernels::PairSource;
  using B = kernels::PairBatch;
  testing::expect_invalid_argument([&] { with([](S& x, B&) { x.frames = Tensor::zeros({8}); }); }, "gather frames");
  testing::expect_invalid_argument([&] { with([](S& x, B&) { x.frames = Tensor::zeros({4, 2}, Device::cpu(), DType::Float64); }); },
                                   "gather frames: expected float32");
  testing::expect_invalid_argument([&] { with([](S& x, B&) { x.weights = Tensor::zeros({3}); }); }, "gather weights");
  testing::expect_invalid_argument([&] { with([](S& x, B&) { x.inverse_temperature = Tensor::zeros({5}); }); },
                                   "gather inverse_temperature");
  testing::expect_invalid_argument([&] { with([](S& x, B&) { x.labels = kernels::Indices::from_vector({0}); }); },
                                   "gather labels: expected 4 entries");
  testing::expect_invalid_argument([&] { with([](S& x, B&) { x.present = kernels::Indices(); }); }, "gather present");
  testing::expect_invalid_argument([&] { with([](S& x, B&) { x.lag = 4; }); }, "gather lag");
  testing::expect_invalid_argument([&] { with([](S& x, B&) { x.states = 0; }); }, "gather states");
  testing::expect_invalid_argument([&] { with([](S&, B& b) { b.inputs = Tensor::zeros({2, 3}); }); },
                                   "gather batch inputs");
  testing::expect_invalid_argument([&] { with([](S&, B& b) { b.targets = Tensor::zeros({2, 5}); }); },
                                   "gather batch targets");
  testing::expect_invalid_argument([&] { with([](S&, B& b) { b.weights = Tensor::zeros({3}); }); },
                                   "gather batch weights");
  testing::expect_invalid_argument(
      [&] { with([](S&, B& b) { b.inverse_temperature = Tensor::zeros({2}, Device::cpu(), DType::Float64); }); },
      "gather batch inverse_temperature: expected float32");
  // Slices that run past the pair list or the order.
  testing::expect_invalid_argument([&] { kernels::gather_pairs(s, none, 2, batch); }, "outside the 3 positions of the pair list");
  testing::expect_invalid_argument(
      [&] { kernels::gather_pairs(s, kernels::Indices::from_vector({0}), 0, batch); }, "of the order");
  testing::expect_invalid_argument([&] { kernels::gather_pairs(s, none, -1, batch); }, "gather slice");
}

// --- The trainer's device-resident epoch, on the CPU ---

models::LatfConfig small_config() {
  models::LatfConfig config;
  config.lag = 1;
  config.spib.latent_dim = 2;
  config.spib_phase.batch_size = 16;
  config.spib_phase.max_epochs = 2;
  config.spib_phase.refinements = 0;
  config.joint_phase.batch_size = 16;
  config.joint_phase.max_epochs = 1;
  config.joint_phase.refinements = 0;
  config.flow.layers = 2;
  return config;
}

Dataset ramp_dataset() {
  DatasetOptions options;
  options.lag = 1;
  auto t = trajectories(2, 3);
  return Dataset::build(std::move(t), options);
}

TEST(DeviceResidentTraining, EpochsAreReproducibleAndShuffled) {
  const models::LatfConfig config = small_config();
  Dataset a = ramp_dataset(), b = ramp_dataset();
  models::Trainer ta(config, a, Device::cpu()), tb(config, b, Device::cpu());
  ta.train();
  tb.train();
  ASSERT_EQ(ta.history().size(), tb.history().size());
  for (std::size_t e = 0; e < ta.history().size(); ++e)
    EXPECT_EQ(ta.history()[e].train.total, tb.history()[e].train.total) << "epoch record " << e;
  // Another seed shuffles differently (and draws other noise), so the losses move.
  models::LatfConfig other = config;
  other.seed = 77;
  Dataset c = ramp_dataset();
  models::Trainer tc(other, c, Device::cpu());
  tc.train();
  EXPECT_NE(ta.history()[0].train.total, tc.history()[0].train.total);
}

// A divergence restores the weights of the last completed epoch before the hook runs, so a
// hook that saves the model saves good weights.
TEST(DeviceResidentTraining, DivergenceRollsBackToTheLastGoodEpoch) {
  models::LatfConfig config = small_config();
  config.joint_phase.learning_rate = 1e30;  // the SPIB phase completes; the first joint update blows up
  Dataset ds = ramp_dataset();
  models::Trainer trainer(config, ds, Device::cpu());
  std::vector<float> spib_in_hook;
  trainer.set_divergence_hook([&] { spib_in_hook = trainer.model().spib->parameters().flat_values().to_vector(); });
  const testing::Divergence run = testing::train_until_divergence(trainer);
  ASSERT_FALSE(run.error.empty()) << "expected divergence";
  EXPECT_NE(run.error.find("training diverged in the joint phase, epoch 0, step "), std::string::npos) << run.error;
  ASSERT_FALSE(run.spib_at_end.empty());
  EXPECT_EQ(spib_in_hook, run.spib_at_end);
  EXPECT_EQ(trainer.model().spib->parameters().flat_values().to_vector(), run.spib_at_end);
  EXPECT_EQ(trainer.model().flow->parameters().flat_values().to_vector(), run.flow_at_end);
  for (float v : run.spib_at_end) ASSERT_TRUE(std::isfinite(v));
}

// The GPU's bookkeeping (no per-step reads, losses summed in a tensor and read once per epoch)
// run on the CPU: the same epoch losses as the per-step reads, to float32 rounding.
TEST(DeviceResidentTraining, EpochEndReadMatchesPerStepReads) {
  const models::LatfConfig config = small_config();
  Dataset a = ramp_dataset(), b = ramp_dataset();
  models::Trainer per_step(config, a, Device::cpu()), once(config, b, Device::cpu());
  EXPECT_TRUE(per_step.step_checks());
  once.set_step_checks(false);
  per_step.train();
  once.train();
  ASSERT_EQ(once.history().size(), per_step.history().size());
  for (std::size_t e = 0; e < per_step.history().size(); ++e) {
    const auto &x = per_step.history()[e], &y = once.history()[e];
    EXPECT_NEAR(y.train.total, x.train.total, 1e-5 * std::max(1.0, std::abs(x.train.total))) << "record " << e;
    EXPECT_NEAR(y.train.reconstruction, x.train.reconstruction, 1e-5 * std::max(1.0, std::abs(x.train.reconstruction)));
    EXPECT_NEAR(y.train.prior, x.train.prior, 1e-5 * std::max(1.0, std::abs(x.train.prior)));
    EXPECT_NEAR(y.validation.total, x.validation.total, 1e-5 * std::max(1.0, std::abs(x.validation.total)));
  }
}

// Without per-step checks a NaN is found at the epoch's end: the error names the phase and the
// epoch (no step), and the weights are rolled back before the hook runs.
TEST(DeviceResidentTraining, EpochEndDivergenceNamesPhaseAndEpochAndRollsBack) {
  models::LatfConfig config = small_config();
  config.joint_phase.learning_rate = 1e30;
  Dataset ds = ramp_dataset();
  models::Trainer trainer(config, ds, Device::cpu());
  trainer.set_step_checks(false);
  std::vector<float> flow_in_hook;
  trainer.set_divergence_hook([&] { flow_in_hook = trainer.model().flow->parameters().flat_values().to_vector(); });
  const testing::Divergence run = testing::train_until_divergence(trainer);
  ASSERT_FALSE(run.error.empty()) << "expected divergence";
  EXPECT_NE(run.error.find("training diverged in the joint phase, epoch 0 (found at the epoch's end"), std::string::npos)
      << run.error;
  EXPECT_EQ(run.error.find(", step "), std::string::npos) << run.error;
  ASSERT_EQ(trainer.history().size(), 2u);  // the two good SPIB epochs
  EXPECT_EQ(flow_in_hook, run.flow_at_end);
  EXPECT_EQ(trainer.model().spib->parameters().flat_values().to_vector(), run.spib_at_end);
  EXPECT_EQ(trainer.model().flow->parameters().flat_values().to_vector(), run.flow_at_end);
}

}  // namespace
}  // namespace latf
