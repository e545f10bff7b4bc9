// Batched models on the CPU: M models stacked in one set of tensors must each behave exactly as
// the same model alone — the stacked networks, the stacked loss and gradients, and whole training
// runs (StackedTrainer against one Trainer per model).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "models/loss.hpp"
#include "models/stacked_trainer.hpp"
#include "models/trainer.hpp"
#include "tests/stacked_support.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using autodiff::Tape;
using testing::expect_same_bits;
using autodiff::Var;
using models::Dataset;
using models::DatasetOptions;
using models::LatfConfig;
using models::LatfModel;
using models::Phase;
using models::Trajectory;
using testing::base_config;
using testing::small_dataset;
using testing::varied_configs;

LatfModel make_model(const LatfConfig& config, const Dataset& data) {
  return LatfModel::create(config, data.descriptors(), data.states(), data.normalization(),
                           data.reference_temperature(), Device::cpu());
}


void expect_same_parameters(const autodiff::ParameterSet& a, const autodiff::ParameterSet& b, const std::string& what) {
  ASSERT_EQ(a.names(), b.names()) << what;
  for (int i = 0; i < a.count(); ++i) expect_same_bits(a.value(i), b.value(i), what + " " + a.names()[i]);
}

TEST(StackedModels, StackAndUnstackRoundTrip) {
  const std::vector<LatfConfig> configs = varied_configs();
  const Dataset data = small_dataset(configs[0]);
  std::vector<LatfModel> singles;
  for (const LatfConfig& c : configs) singles.push_back(make_model(c, data));
  const models::SpibModel spib = models::SpibModel::stack({singles[0].spib.get(), singles[1].spib.get(), singles[2].spib.get()});
  const models::RealNvp flow = models::RealNvp::stack({singles[0].flow.get(), singles[1].flow.get(), singles[2].flow.get()});
  ASSERT_EQ(spib.models(), 3);
  ASSERT_EQ(flow.models(), 3);
  EXPECT_EQ(spib.parameters().shape(spib.parameters().index("decoder.2.weight")), Shape({3, data.states(), 16}));
  for (int m = 0; m < 3; ++m) {
    expect_same_parameters(spib.model(m, data.states()).parameters(), singles[m].spib->parameters(), concat("spib ", m));
    expect_same_parameters(flow.model(m).parameters(), singles[m].flow->parameters(), concat("flow ", m));
  }
}

TEST(StackedModels, FewerStatesInOneSlotLeaveTheRestDead) {
  const LatfConfig config = base_config();
  const Dataset data = small_dataset(config);
  const LatfModel a = make_model(config, data), b = make_model(varied_configs()[1], data);
  models::SpibModel spib = models::SpibModel::stack({a.spib.get(), b.spib.get()});
  const int states = data.states();
  ASSERT_GE(states, 4);
  const models::SpibModel fewer = b.spib->with_states({0, 2, 3});
  spib.set_model(1, fewer);
  expect_same_parameters(spib.model(1, 3).parameters(), fewer.parameters(), "slot 1");
  expect_same_parameters(spib.model(0, states).parameters(), a.spib->parameters(), "slot 0 untouched");
  const auto& p = spib.parameters();
  const std::vector<float> bias = p.value("decoder.2.bias").to_vector();
  const std::vector<float> mixture = p.value("mixture_logits").to_vector();
  const std::vector<float> weight = p.value("decoder.2.weight").to_vector();
  for (int k = 3; k < states; ++k) {
    EXPECT_EQ(bias[states + k], models::kDeadStateLogit) << k;
    EXPECT_EQ(mixture[states + k], models::kDeadStateLogit) << k;
    for (int j = 0; j < 16; ++j) EXPECT_EQ(weight[(states + k) * 16 + j], 0.f) << k;
  }
  testing::expect_invalid_argument([&] { spib.set_model(2, fewer); }, "model 2 outside [0, 2)");
  testing::expect_invalid_argument([&] { (void)spib.model(0, 1); }, "live states 1");
}

// The stacked loss of M models, forward and every gradient, equals M single losses bit for bit.
void check_stacked_loss(Phase phase) {
  const std::vector<LatfConfig> configs = varied_configs();
  const Dataset data = small_dataset(configs[0]);
  std::vector<LatfModel> singles;
  for (const LatfConfig& c : configs) singles.push_back(make_model(c, data));
  models::SpibModel spib = models::SpibModel::stack({singles[0].spib.get(), singles[1].spib.get(), singles[2].spib.get()});
  models::RealNvp flow = models::RealNvp::stack({singles[0].flow.get(), singles[1].flow.get(), singles[2].flow.get()});
  const int rows = 37, states = data.states(), d = 2;
  const Tensor inputs = testing::random_tensor({3, rows, 2}, 1, -2, 2);
  Tensor targets = Tensor::zeros({3, rows, states});
  for (int m = 0; m < 3; ++m)
    for (int i = 0; i < rows; ++i) targets.data<float>()[(m * rows + i) * states + (i * 7 + m) % states] = 1.f;
  const Tensor weights = testing::random_tensor({3, rows}, 2, 0.5, 2), inverse_t = testing::random_tensor({3, rows}, 3, 0.6, 1.2);
  const Tensor noise = testing::random_tensor({3, rows, d}, 4);
  std::vector<float> betas, taus;
  for (const LatfConfig& c : configs) {
    betas.push_back(static_cast<float>(c.spib.beta));
    taus.push_back(static_cast<float>(c.flow.tau));
  }
  Tape stacked_tape;
  stacked_tape.set_check_finite(false);
  const models::BatchVars stacked_batch{stacked_tape.constant(inputs), stacked_tape.constant(targets),
                                        stacked_tape.constant(weights), stacked_tape.constant(inverse_t),
                                        stacked_tape.constant(noise)};
  const models::LossVars stacked =
      models::stacked_latf_loss(stacked_tape, spib, flow, phase, stacked_batch, Tensor::from_vector(betas, {3}),
                                Tensor::from_vector(taus, {3}));
  stacked_tape.backward(stacked.total);
  for (int m = 0; m < 3; ++m) {
    const auto slice = [&](const Tensor& t) {
      Shape single = t.rank() == 3 ? Shape{t.dim(1), t.dim(2)} : Shape{t.dim(1)};
      return t.view(m * single.numel(), single).clone();
    };
    Tape tape;
    const models::BatchVars batch{tape.constant(slice(inputs)), tape.constant(slice(targets)),
                                  tape.constant(slice(weights)), tape.constant(slice(inverse_t)),
                                  tape.constant(slice(noise))};
    const models::LossVars single = models::latf_loss(tape, *singles[m].spib, *singles[m].flow, phase, batch,
                                                      configs[m].spib.beta, configs[m].flow.tau);
    tape.backward(single.total);
    const std::string what = concat(models::phase_name(phase), " model ", m);
    EXPECT_EQ(stacked_tape.value(stacked.reconstruction).to_vector()[m], tape.value(single.reconstruction).item()) << what;
    EXPECT_EQ(stacked_tape.value(stacked.prior).to_vector()[m], tape.value(single.prior).item()) << what;
    // Gradients: slot m of the stacked gradient buffers against the single model's.
    autodiff::ParameterSet& sp = singles[m].spib->parameters();
    for (int i = 0; i < sp.count(); ++i) {
      const Tensor g = spib.parameters().grad(i);
      expect_same_bits(g.view(m * sp.grad(i).numel(), sp.grad(i).shape()).clone(), sp.grad(i), what + " d" + sp.names()[i]);
    }
    autodiff::ParameterSet& fp = singles[m].flow->parameters();
    for (int i = 0; i < fp.count(); ++i) {
      const Tensor g = flow.parameters().grad(i);
      expect_same_bits(g.view(m * fp.grad(i).numel(), fp.grad(i).shape()).clone(), fp.grad(i), what + " d" + fp.names()[i]);
    }
  }
}

TEST(StackedLoss, SpibPhaseEqualsSingleModels) { check_stacked_loss(Phase::Spib); }
TEST(StackedLoss, JointPhaseEqualsSingleModels) { check_stacked_loss(Phase::Joint); }

struct SingleRun {
  std::vector<models::EpochRecord> history;
  LatfModel model;
  std::string error;
};

SingleRun train_alone(const LatfConfig& config) {
  Dataset data = small_dataset(config);  // its own copy: a Trainer relabels its data set
  models::Trainer trainer(config, data, Device::cpu());
  SingleRun run;
  try {
    trainer.train();
  } catch (const BackendError& e) {
    run.error = e.what();
  }
  run.history = trainer.history();
  run.model = std::move(trainer.model());
  return run;
}

// Epoch by epoch, model m of the stack followed its Trainer's course: same phases, rounds, states,
// and losses (bit for bit when `exact`, else to float rounding).
void expect_same_course(const std::vector<models::EpochRecord>& stacked, const std::vector<models::EpochRecord>& single,
                        bool exact, const std::string& what) {
  ASSERT_EQ(stacked.size(), single.size()) << what << ": number of epochs";
  for (std::size_t e = 0; e < single.size(); ++e) {
    const auto& a = stacked[e];
    const auto& b = single[e];
    const std::string at = concat(what, " epoch record ", e);
    EXPECT_EQ(a.phase, b.phase) << at;
    EXPECT_EQ(a.epoch, b.epoch) << at;
    EXPECT_EQ(a.round, b.round) << at;
    EXPECT_EQ(a.states, b.states) << at;
    EXPECT_EQ(a.learning_rate, b.learning_rate) << at;
    if (exact) {
      EXPECT_EQ(a.train.total, b.train.total) << at;
      EXPECT_EQ(a.validation.total, b.validation.total) << at;
      EXPECT_EQ(a.populations, b.populations) << at;
    } else {
      EXPECT_NEAR(a.train.total, b.train.total, 1e-4 * (1 + std::abs(b.train.total))) << at;
      EXPECT_NEAR(a.validation.total, b.validation.total, 1e-4 * (1 + std::abs(b.validation.total))) << at;
    }
  }
}

void expect_close_parameters(const autodiff::ParameterSet& a, const autodiff::ParameterSet& b, double tolerance,
                             const std::string& what) {
  ASSERT_EQ(a.names(), b.names()) << what;
  for (int i = 0; i < a.count(); ++i)
    EXPECT_LE(testing::max_relative_error(a.value(i), b.value(i)), tolerance) << what << " " << a.names()[i];
}

// Without refinements no model ever drops a state: the stack is bit for bit the separate runs.
TEST(StackedTrainer, WithoutRefinementsEachModelIsItsTrainerBitForBit) {
  const std::vector<LatfConfig> configs = varied_configs();
  Dataset data = small_dataset(configs[0]);
  models::StackedTrainer stacked(configs, data, Device::cpu());
  int callbacks = 0;
  stacked.train([&](int, const models::EpochRecord&) { ++callbacks; });
  int epochs = 0;
  for (int m = 0; m < 3; ++m) {
    const SingleRun alone = train_alone(configs[m]);
    ASSERT_TRUE(alone.error.empty()) << alone.error;
    EXPECT_TRUE(stacked.failure(m).empty()) << stacked.failure(m);
    expect_same_course(stacked.history(m), alone.history, true, concat("model ", m));
    const LatfModel mine = stacked.model(m);
    expect_same_parameters(mine.spib->parameters(), alone.model.spib->parameters(), concat("model ", m, " spib"));
    expect_same_parameters(mine.flow->parameters(), alone.model.flow->parameters(), concat("model ", m, " flow"));
    epochs += static_cast<int>(alone.history.size());
  }
  EXPECT_EQ(callbacks, epochs);
}

// The other architectures: a nonlinear encoder with the input-dependent variance head, and a
// flow-free model trained without a validation split.
TEST(StackedTrainer, OtherArchitecturesAreTheirTrainersBitForBit) {
  std::vector<LatfConfig> nonlinear = varied_configs();
  for (LatfConfig& c : nonlinear) {
    c.spib.encoder = models::EncoderKind::Nonlinear;
    c.spib.input_dependent_variance = true;
  }
  std::vector<LatfConfig> flow_free = varied_configs();
  for (LatfConfig& c : flow_free) {
    c.flow.layers = 0;
    c.validation_fraction = 0;
  }
  for (const auto& configs : {nonlinear, flow_free}) {
    Dataset data = small_dataset(configs[0]);
    models::StackedTrainer stacked(configs, data, Device::cpu());
    stacked.train();
    for (int m = 0; m < 3; ++m) {
      const SingleRun alone = train_alone(configs[m]);
      ASSERT_TRUE(alone.error.empty()) << alone.error;
      const std::string what = concat(configs[m].flow.layers == 0 ? "flow-free" : "nonlinear", " model ", m);
      expect_same_course(stacked.history(m), alone.history, true, what);
      expect_same_parameters(stacked.model(m).spib->parameters(), alone.model.spib->parameters(), what);
      expect_same_parameters(stacked.model(m).flow->parameters(), alone.model.flow->parameters(), what);
    }
  }
}

// With refinements each model drops states on its own schedule; the stack keeps them as dead
// slots where a Trainer shrinks its decoder, so sums may differ in rounding only.
TEST(StackedTrainer, RefinementsFollowEachModelsOwnCourse) {
  std::vector<LatfConfig> configs = varied_configs();
  for (LatfConfig& c : configs) {
    c.spib_phase.learning_rate = 1e-2;
    c.spib_phase.max_epochs = 8;
    c.spib_phase.refinements = 3;
  }
  configs[1].spib_phase.refinements = 1;
  configs[2].spib_phase.learning_rate *= 0.5;
  Dataset data = small_dataset(configs[0]);
  models::StackedTrainer stacked(configs, data, Device::cpu());
  stacked.train();
  bool some_state_dropped = false;
  for (int m = 0; m < 3; ++m) {
    const SingleRun alone = train_alone(configs[m]);
    ASSERT_TRUE(alone.error.empty()) << alone.error;
    expect_same_course(stacked.history(m), alone.history, false, concat("model ", m));
    EXPECT_EQ(stacked.states(m), alone.model.spib->states()) << m;
    some_state_dropped = some_state_dropped || stacked.states(m) < data.states();
    const LatfModel mine = stacked.model(m);
    expect_close_parameters(mine.spib->parameters(), alone.model.spib->parameters(), 1e-3, concat("model ", m, " spib"));
    expect_close_parameters(mine.flow->parameters(), alone.model.flow->parameters(), 1e-3, concat("model ", m, " flow"));
  }
  EXPECT_TRUE(some_state_dropped) << "the test should exercise dead states";
  EXPECT_GE(stacked.history(0).size(), 6u) << "the test should run through several refinement rounds";
}

TEST(StackedTrainer, ADivergingModelIsRolledBackAndTheOthersTrainOn) {
  std::vector<LatfConfig> configs(2, base_config());
  configs[1].seed = 3;
  configs[1].spib_phase.learning_rate = 1e30;  // its first update blows every weight up
  Dataset data = small_dataset(configs[0]);
  models::StackedTrainer stacked(configs, data, Device::cpu());
  stacked.train();
  EXPECT_NE(stacked.failure(1).find("training diverged in the spib phase, epoch 0, step"), std::string::npos)
      << stacked.failure(1);
  EXPECT_TRUE(stacked.history(1).empty());
  // Rolled back to where its last good epoch ended: here its initial weights.
  const LatfModel initial = make_model(configs[1], data);
  expect_same_parameters(stacked.model(1).spib->parameters(), initial.spib->parameters(), "diverged model");
  // The other model never noticed.
  ASSERT_TRUE(stacked.failure(0).empty()) << stacked.failure(0);
  const SingleRun alone = train_alone(configs[0]);
  expect_same_course(stacked.history(0), alone.history, true, "healthy model");
  expect_same_parameters(stacked.model(0).spib->parameters(), alone.model.spib->parameters(), "healthy model");
}

// The GPU's bookkeeping (losses summed on the device, read once per epoch) on the CPU.
TEST(StackedTrainer, EpochEndLossReadsMatchPerStepReads) {
  const std::vector<LatfConfig> configs = varied_configs();
  Dataset a = small_dataset(configs[0]), b = small_dataset(configs[0]);
  models::StackedTrainer per_step(configs, a, Device::cpu()), per_epoch(configs, b, Device::cpu());
  per_epoch.set_step_checks(false);
  per_step.train_phase(Phase::Spib);
  per_epoch.train_phase(Phase::Spib);
  for (int m = 0; m < 3; ++m) {
    expect_same_course(per_epoch.history(m), per_step.history(m), false, concat("model ", m));
    expect_same_parameters(per_epoch.model(m).spib->parameters(), per_step.model(m).spib->parameters(),
                           concat("model ", m));
  }
}

TEST(StackedTrainer, RejectsModelsThatCannotShareAStack) {
  Dataset data = small_dataset(base_config());
  const auto expect_conflict = [&](const std::function<void(LatfConfig&)>& change, const std::string& key) {
    std::vector<LatfConfig> configs(2, base_config());
    change(configs[1]);
    testing::expect_invalid_argument([&] { models::StackedTrainer(configs, data, Device::cpu()); },
                                     concat("model 1 differs from model 0 in '", key, "'"));
  };
  expect_conflict([](LatfConfig& c) { c.lag = 5; }, "lag");
  expect_conflict([](LatfConfig& c) { c.flow.layers = 3; }, "flow.layers");
  expect_conflict([](LatfConfig& c) { c.spib.decoder_width = 8; }, "spib.decoder_width");
  expect_conflict([](LatfConfig& c) { c.joint_phase.batch_size = 64; }, "joint_phase.batch_size");
  testing::expect_invalid_argument([&] { models::StackedTrainer({}, data, Device::cpu()); },
                                   "at least one model configuration");
  std::vector<LatfConfig> bad(2, base_config());
  bad[1].spib.beta = -1;
  testing::expect_invalid_argument([&] { models::StackedTrainer(bad, data, Device::cpu()); }, "beta");
  models::StackedTrainer fine({base_config()}, data, Device::cpu());
  testing::expect_invalid_argument([&] { (void)fine.history(1); }, "model 1 outside [0, 1)");
}

}  // namespace
}  // namespace latf
