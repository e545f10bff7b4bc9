// The LaTF models layer: dataset construction and validation, SPIB and RealNVP building blocks,
// and a short end-to-end run on the three-hole potential.
#include <algorithm>
#include <functional>
#include <map>

#include "models/dataset.hpp"
#include "models/evaluation.hpp"
#include "models/inference.hpp"
#include "models/prior.hpp"
#include "models/realnvp.hpp"
#include "models/spib.hpp"
#include "models/trainer.hpp"
#include "systems/langevin.hpp"
#include "systems/three_hole_reference.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using models::Dataset;
using models::DatasetOptions;
using models::Trajectory;

Trajectory ramp(std::int64_t frames, double temperature, const std::string& name) {
  std::vector<float> values;
  for (std::int64_t i = 0; i < frames; ++i) {
    values.push_back(static_cast<float>(i));
    values.push_back(static_cast<float>(i % 2));
  }
  Trajectory t;
  t.frames = Tensor::from_vector(values, {frames, 2});
  t.temperature = temperature;
  t.name = name;
  t.labels.assign(frames, 0);
  for (std::int64_t i = 0; i < frames; ++i) t.labels[i] = i < frames / 2 ? 3 : 7;
  return t;
}

TEST(Dataset, PairsStayInsideTrajectories) {
  DatasetOptions options;
  options.lag = 3;
  options.validation_fraction = 0.25;
  Dataset ds = Dataset::build({ramp(10, 1.0, "a"), ramp(6, 2.0, "b")}, options);
  EXPECT_EQ(ds.frames(), 16);
  EXPECT_EQ(ds.train_pairs().size() + ds.validation_pairs().size(), 7u + 3u);
  EXPECT_EQ(ds.validation_pairs().size(), 2u);  // ⌊0.25 · 10⌋
  for (std::int64_t p = 0; p < 10; ++p) {
    const auto& off = ds.trajectory_offsets();
    const auto k = std::upper_bound(off.begin(), off.end(), ds.present(p)) - off.begin() - 1;
    EXPECT_LT(ds.future(p), off[k + 1]) << "pair " << p << " crosses into the next trajectory";
  }
  EXPECT_EQ(ds.states(), 2);  // labels 3 and 7 renumbered to 0 and 1
  EXPECT_DOUBLE_EQ(ds.reference_temperature(), 1.0);
  EXPECT_FLOAT_EQ(ds.frame_inverse_temperature()[12], 0.5f);  // b = T_ref / T = 1 / 2
  // Normalised descriptors have mean 0 and unit variance.
  const auto x = ds.inputs().to_vector();
  double mean = 0, var = 0;
  for (std::int64_t i = 0; i < 16; ++i) mean += x[2 * i] / 16.0;
  for (std::int64_t i = 0; i < 16; ++i) var += (x[2 * i] - mean) * (x[2 * i] - mean) / 16.0;
  EXPECT_NEAR(mean, 0.0, 1e-6);
  EXPECT_NEAR(var, 1.0, 1e-5);
}

TEST(Dataset, SplitIsSeeded) {
  DatasetOptions options;
  options.lag = 1;
  const Dataset a = Dataset::build({ramp(50, 1.0, "a")}, options);
  const Dataset b = Dataset::build({ramp(50, 1.0, "a")}, options);
  options.seed = 9;
  const Dataset c = Dataset::build({ramp(50, 1.0, "a")}, options);
  EXPECT_EQ(a.train_pairs(), b.train_pairs());
  EXPECT_NE(a.train_pairs(), c.train_pairs());
}

TEST(Dataset, GatherBuildsOneHotFutureTargets) {
  DatasetOptions options;
  options.lag = 2;
  options.validation_fraction = 0;
  Dataset ds = Dataset::build({ramp(8, 1.0, "a")}, options);
  models::Batch batch;
  const std::vector<std::int64_t> pairs = {1, 2};  // futures 3 (state 0) and 4 (state 1)
  ds.gather(pairs, batch);
  EXPECT_EQ(batch.targets.to_vector(), (std::vector<float>{1, 0, 0, 1}));
  EXPECT_EQ(batch.weights.to_vector(), (std::vector<float>{1, 1}));
}

TEST(Dataset, RejectsBadInputBeforeTraining) {
  DatasetOptions options;
  options.lag = 5;
  testing::expect_invalid_argument([&] { Dataset::build({ramp(5, 1.0, "short.npy")}, options); }, "short.npy: lag 5");
  testing::expect_invalid_argument([&] { Dataset::build({ramp(10, 0.0, "cold")}, options); }, "cold: temperature");
  testing::expect_invalid_argument([&] { Dataset::build({ramp(10, -1.0, "neg")}, options); }, "neg: temperature");
  Trajectory t = ramp(10, 1.0, "w");
  t.weights.assign(9, 1.f);
  testing::expect_invalid_argument([&] { Dataset::build({t}, options); }, "w: 9 weights for 10 frames");
  t.weights.assign(10, 1.f);
  t.weights[4] = -1.f;
  testing::expect_invalid_argument([&] { Dataset::build({t}, options); }, "w: weight -1 at frame 4");
  Trajectory l = ramp(10, 1.0, "l");
  l.labels.pop_back();
  testing::expect_invalid_argument([&] { Dataset::build({l}, options); }, "l: 9 labels for 10 frames");
  Trajectory one = ramp(10, 1.0, "one");
  std::fill(one.labels.begin(), one.labels.end(), 4);
  testing::expect_invalid_argument([&] { Dataset::build({one}, options); }, "only one state");
  Trajectory empty;
  empty.frames = Tensor::empty({0, 2});
  empty.temperature = 1;
  empty.name = "empty.npy";
  testing::expect_invalid_argument([&] { Dataset::build({empty}, options); }, "empty.npy: the trajectory is empty");
  Trajectory nan = ramp(10, 1.0, "nan");
  nan.frames.data<float>()[7] = NAN;
  testing::expect_invalid_argument([&] { Dataset::build({nan}, options); }, "nan: non-finite descriptor");
  Trajectory wide = ramp(10, 1.0, "c");
  wide.frames = Tensor::zeros({10, 3});
  testing::expect_invalid_argument([&] { Dataset::build({ramp(10, 1.0, "a"), wide}, options); }, "c: 3 descriptors");
}

TEST(SpibModel, ShapesAndStateShrinking) {
  models::SpibShape shape{5, 4, {}};
  shape.config.encoder = models::EncoderKind::Nonlinear;
  models::SpibModel model(shape, Device::cpu(), 3);
  autodiff::Tape tape;
  autodiff::Var x = tape.constant(testing::random_tensor({7, 5}, 1));
  autodiff::Var mu = model.encode_mean(tape, x);
  EXPECT_EQ(tape.value(mu).shape(), (Shape{7, 2}));
  EXPECT_EQ(tape.value(model.decode_logits(tape, mu)).shape(), (Shape{7, 4}));
  const auto before = model.parameters().value("decoder.2.weight").to_vector();
  models::SpibModel smaller = model.with_states({1, 3});
  EXPECT_EQ(smaller.states(), 2);
  const auto after = smaller.parameters().value("decoder.2.weight").to_vector();
  ASSERT_EQ(after.size(), 2u * 16u);
  EXPECT_TRUE(std::equal(after.begin(), after.begin() + 16, before.begin() + 16));
  EXPECT_TRUE(std::equal(after.begin() + 16, after.end(), before.begin() + 48));
  EXPECT_EQ(smaller.parameters().value("encoder.0.weight").to_vector(), model.parameters().value("encoder.0.weight").to_vector());
  EXPECT_THROW(model.with_states({2}), InvalidArgument);
}

TEST(SpibModel, InputDependentVarianceOption) {
  for (auto kind : {models::EncoderKind::Linear, models::EncoderKind::Nonlinear}) {
    models::SpibShape shape{3, 4, {}};
    shape.config.encoder = kind;
    shape.config.input_dependent_variance = true;
    models::SpibModel model(shape, Device::cpu(), 3);
    EXPECT_THROW(model.parameters().index("log_variance"), InvalidArgument);
    autodiff::Tape tape;
    const auto e = model.encode(tape, tape.constant(testing::random_tensor({6, 3}, 1)));
    ASSERT_EQ(tape.value(e.log_variance).shape(), (Shape{6, 2}));
    for (float v : tape.value(e.log_variance).to_vector()) {
      EXPECT_LT(v, 0.f);  // −10·sigmoid(·) ∈ (−10, 0)
      EXPECT_GT(v, -10.f);
    }
  }
  // The whole loss trains with the option on (both phases).
  DatasetOptions options;
  options.lag = 2;
  Dataset ds = Dataset::build({ramp(300, 1.0, "a"), ramp(300, 2.0, "b")}, options);
  models::LatfConfig config;
  config.lag = 2;
  config.spib.input_dependent_variance = true;
  config.spib.encoder = models::EncoderKind::Nonlinear;
  config.spib_phase = {64, 1e-3, 0.99, 1e-3, 2, 0, 4};
  config.joint_phase = {64, 1e-3, 0.99, 1e-3, 2, 0, 3};
  config.flow.layers = 2;
  models::Trainer trainer(config, ds, Device::cpu());
  trainer.train();
  EXPECT_TRUE(std::isfinite(trainer.history().back().train.total));
  EXPECT_LT(trainer.history().back().train.reconstruction, trainer.history().front().train.reconstruction);
}

TEST(RealNvp, StartsAsIdentityAndInvertsAfterTraining) {
  models::FlowConfig config;
  config.layers = 6;
  models::RealNvp flow(2, config, Device::cpu(), 5);
  autodiff::Tape tape;
  Tensor u = testing::random_tensor({64, 2}, 2, -3, 3);
  const auto z = flow.normalize(tape, tape.constant(u));
  EXPECT_LT(testing::max_relative_error(tape.value(z.out), u), 1e-6);
  // Perturb every parameter, then G(F(u)) = u and the log-dets cancel.
  Tensor noise = testing::random_tensor({flow.parameters().size()}, 3, -0.3, 0.3);
  flow.parameters().flat_values().copy_from(noise);
  const auto zz = flow.normalize(tape, tape.constant(u));
  const auto back = flow.generate(tape, zz.out);
  EXPECT_LT(testing::max_relative_error(tape.value(back.out), u), 1e-5);
  const auto a = tape.value(zz.log_det).to_vector(), b = tape.value(back.log_det).to_vector();
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i] + b[i], 0.f, 1e-5f);
  EXPECT_EQ(models::default_mask(2, 0), (std::vector<float>{1, 0}));
  EXPECT_EQ(models::default_mask(2, 1), (std::vector<float>{0, 1}));
  EXPECT_EQ(models::default_mask(5, 1), (std::vector<float>{0, 0, 1, 1, 1}));
}

TEST(TiltedPrior, SamplesMatchRingRadius) {
  models::TiltedPrior prior(2, 3.0);
  const Tensor z = prior.sample(20000, 2.0, Device::cpu(), 1, 0);
  double radius = 0;
  const auto v = z.to_vector();
  for (std::size_t i = 0; i < v.size(); i += 2) radius += std::hypot(v[i], v[i + 1]) / 20000.0;
  EXPECT_NEAR(radius, 3.0 * 2.0, 0.5);  // the ring radius grows like τT'
  EXPECT_THROW(prior.log_density(z, 0.0), InvalidArgument);
}

// Short end-to-end run: Langevin data from the three-hole potential at T = 1; SPIB must end
// with the three wells as its states, and a short joint phase must train the flow.
TEST(LatfEndToEnd, ThreeHoleWellsBecomeTheStates) {
  systems::LangevinConfig sim;
  sim.temperature = 1.0;
  sim.frames = 2500;
  sim.replicas = 12;
  sim.steps_per_frame = 10;
  sim.seed = 4;
  const Tensor frames = systems::simulate_three_hole(sim);
  std::vector<Trajectory> trajectories;
  for (int r = 0; r < sim.replicas; ++r) {
    Trajectory t;
    t.frames = frames.view(static_cast<std::int64_t>(r) * sim.frames * 2, {sim.frames, 2}).clone();
    t.temperature = 1.0;
    t.name = "replica " + std::to_string(r);
    trajectories.push_back(t);
  }
  models::LatfConfig config;
  config.lag = 10;
  config.spib.initial_states = 20;
  config.spib_phase.refinements = 10;
  config.spib_phase.patience = 3;
  config.spib_phase.max_epochs = 12;
  config.spib_phase.learning_rate = 3e-3;
  config.joint_phase = {512, 1e-3, 0.99, 0.01, 2, 0, 6};
  config.flow.layers = 4;
  DatasetOptions options;
  options.lag = config.lag;
  options.initial_states = config.spib.initial_states;
  Dataset ds = Dataset::build(trajectories, options);
  models::Trainer trainer(config, ds, Device::cpu());
  trainer.train();

  std::string rounds;  // printed on failure: how the states evolved
  for (const auto& r : trainer.history()) {
    rounds += concat(models::phase_name(r.phase), " epoch ", r.epoch, " round ", r.round, " loss ", r.train.total,
                     " val ", r.validation.total, " states ", r.states, " populations");
    for (double p : r.populations) rounds += concat(" ", p);
    rounds += "\n";
  }
  ASSERT_EQ(ds.states(), 3) << "SPIB should keep exactly the three metastable wells\n" << rounds;
  // Frames near each well's minimum carry one label, and the three wells' labels differ. (Frames
  // between wells are assigned by the lagged dynamics, not by steepest descent, so basin
  // boundaries are not compared.)
  const auto& minima = systems::three_hole_minima();
  std::vector<std::map<std::int64_t, int>> counts(minima.size());
  const auto raw = frames.to_vector();
  for (std::int64_t f = 0; f < ds.frames(); ++f)
    for (std::size_t m = 0; m < minima.size(); ++m)
      if (std::hypot(raw[2 * f] - minima[m].x, raw[2 * f + 1] - minima[m].y) < 0.4) ++counts[m][ds.frame_labels()[f]];
  std::vector<std::int64_t> majority;
  for (std::size_t m = 0; m < minima.size(); ++m) {
    int total = 0, best = 0;
    std::int64_t label = -1;
    for (auto& [l, c] : counts[m]) {
      total += c;
      if (c > best) best = c, label = l;
    }
    ASSERT_GT(total, 100) << "well " << m << " was barely visited";
    EXPECT_GT(static_cast<double>(best) / total, 0.95) << "well " << m << "\n" << rounds;
    majority.push_back(label);
  }
  std::sort(majority.begin(), majority.end());
  EXPECT_EQ(std::unique(majority.begin(), majority.end()) - majority.begin(), 3) << rounds;
  // Three metastable states at lag 10 make a good Markov model: GMRQ (3 eigenvalues, the
  // first exactly 1) well above 2 on the held-out end of each trajectory.
  const auto scores = models::state_gmrq(ds);
  EXPECT_GT(scores.train_score, 2.0) << rounds;
  EXPECT_GT(scores.validation_score, 2.0) << rounds;
  EXPECT_LE(scores.train_score, 3.0 + 1e-9);
  // Generated latent samples at the training temperature resemble the encoded data (loose bound:
  // the joint phase here is only a few epochs long), and each coordinate has a finite profile.
  const double kl = models::generated_latent_kl(trainer.model(), frames.reshape({sim.replicas * sim.frames, 2}), 1.0,
                                                20000, 5);
  EXPECT_TRUE(std::isfinite(kl));
  EXPECT_LT(kl, 2.0);
  const auto profiles = models::latent_free_energy_profiles(models::sample_latent(trainer.model(), 1.0, 5000, 6), 40,
                                                            -6, 6);
  ASSERT_EQ(profiles.size(), 2u);
  EXPECT_EQ(*std::min_element(profiles[0].free_energy.begin(), profiles[0].free_energy.end()), 0.0);
  // Encoding raw frames gives probabilities that sum to 1 and labels at their argmax.
  const Tensor some = frames.view(0, {500, 2}).clone();
  const models::EncodedFrames encoded = models::encode_frames(trainer.model(), some);
  const auto probabilities = encoded.state_probabilities.to_vector();
  for (int i = 0; i < 500; ++i) {
    const float* row = probabilities.data() + 3 * i;
    EXPECT_NEAR(row[0] + row[1] + row[2], 1.0f, 1e-5f);
    EXPECT_EQ(std::max_element(row, row + 3) - row, encoded.labels[i]);
  }
  // Generated populations are a distribution with error bars.
  const auto estimate = models::generated_populations(trainer.model(), 1.0, 2000, 4, 11);
  double total = 0;
  for (int k = 0; k < 3; ++k) {
    total += estimate.mean[k];
    EXPECT_GE(estimate.error[k], 0.0);
  }
  EXPECT_NEAR(total, 1.0, 1e-9);
  EXPECT_THROW(models::sample_latent(trainer.model(), 0.0, 10, 1), InvalidArgument);
  // The joint phase ran and its loss stayed finite.
  const auto& h = trainer.history();
  ASSERT_FALSE(h.empty());
  EXPECT_EQ(h.back().phase, models::Phase::Joint);
  EXPECT_TRUE(std::isfinite(h.back().train.total));
}

// A crafted refinement: a linear encoder μ(x) = x and a decoder whose logits favour state 1 for
// x₀ < 0 and state 3 for x₀ > 0 (states 0 and 2 never win). Refinement must keep states {1, 3}
// in that order, relabel every frame by the sign of x₀, shrink the decoder's output rows to
// the survivors, and put each pseudo-input on the frame nearest its state's mean.
TEST(LatfTrainer, RefinementRelabelsShrinksAndResetsPseudoInputs) {
  std::vector<float> values;
  for (int i = 0; i < 40; ++i) {
    const float x0 = i < 30 ? -1.0f - 0.1f * (i % 10) : 2.0f + 0.1f * (i % 10);  // 30 left, 10 right
    values.push_back(x0);
    values.push_back(0.1f * (i % 3));
  }
  Trajectory t;
  t.frames = Tensor::from_vector(values, {40, 2});
  t.temperature = 1;
  t.name = "crafted";
  t.labels.resize(40);
  for (int i = 0; i < 40; ++i) t.labels[i] = i % 4;  // four initial states
  DatasetOptions options;
  options.lag = 1;
  Dataset ds = Dataset::build({t}, options);
  models::LatfConfig config;
  config.lag = 1;
  models::Trainer trainer(config, ds, Device::cpu());
  auto& p = trainer.model().spib->parameters();
  // Encoder: identity on the normalised inputs.
  p.value("encoder.0.weight").copy_from(Tensor::from_vector(std::vector<float>{1, 0, 0, 1}, {2, 2}));
  p.value("encoder.0.bias").zero();
  // Decoder: hidden = [relu(u₀), relu(−u₀), 0, …]; logits of state 1 = hidden₁, of state 3 = hidden₀.
  for (const char* name : {"decoder.0.weight", "decoder.1.weight", "decoder.2.weight", "decoder.0.bias",
                           "decoder.1.bias", "decoder.2.bias"})
    p.value(name).zero();
  std::vector<float> w0(16 * 2, 0.f), w1(16 * 16, 0.f), w2(4 * 16, 0.f);
  w0[0 * 2 + 0] = 1;   // h0 = relu(u0)
  w0[1 * 2 + 0] = -1;  // h1 = relu(−u0)
  w1[0 * 16 + 0] = 1;
  w1[1 * 16 + 1] = 1;
  w2[3 * 16 + 0] = 5;  // state 3 ← u0 > 0
  w2[1 * 16 + 1] = 5;  // state 1 ← u0 < 0
  p.value("decoder.0.weight").copy_from(Tensor::from_vector(w0, {16, 2}));
  p.value("decoder.1.weight").copy_from(Tensor::from_vector(w1, {16, 16}));
  p.value("decoder.2.weight").copy_from(Tensor::from_vector(w2, {4, 16}));
  const std::vector<float> rows_before = p.value("decoder.2.weight").to_vector();

  trainer.refine_labels();

  ASSERT_EQ(ds.states(), 2);
  const auto& labels = ds.frame_labels();
  const auto x = ds.inputs().to_vector();
  for (int i = 0; i < 40; ++i) EXPECT_EQ(labels[i], x[2 * i] > 0 ? 1 : 0) << "frame " << i;
  const auto& q = trainer.model().spib->parameters();
  const auto rows_after = q.value("decoder.2.weight").to_vector();
  EXPECT_TRUE(std::equal(rows_after.begin(), rows_after.begin() + 16, rows_before.begin() + 16));       // old state 1
  EXPECT_TRUE(std::equal(rows_after.begin() + 16, rows_after.end(), rows_before.begin() + 3 * 16));     // old state 3
  for (float v : q.value("mixture_logits").to_vector()) EXPECT_EQ(v, 0.f);
  // Pseudo-input of each state: the (normalised) frame whose μ = x is nearest the state's mean.
  const auto pseudo = q.value("pseudo_inputs").to_vector();
  for (int k = 0; k < 2; ++k) {
    double mean[2] = {0, 0};
    int count = 0;
    for (int i = 0; i < 40; ++i)
      if (labels[i] == k) mean[0] += x[2 * i], mean[1] += x[2 * i + 1], ++count;
    mean[0] /= count, mean[1] /= count;
    double best = 1e30;
    int nearest = -1;
    for (int i = 0; i < 40; ++i) {
      if (labels[i] != k) continue;
      const double d = std::pow(x[2 * i] - mean[0], 2) + std::pow(x[2 * i + 1] - mean[1], 2);
      if (d < best) best = d, nearest = i;
    }
    EXPECT_EQ(pseudo[2 * k], x[2 * nearest]) << "state " << k;
    EXPECT_EQ(pseudo[2 * k + 1], x[2 * nearest + 1]) << "state " << k;
  }
  // A decoder that sends everything to one state cannot be refined.
  w2.assign(2 * 16, 0.f);
  trainer.model().spib->parameters().value("decoder.2.weight").copy_from(Tensor::from_vector(w2, {2, 16}));
  trainer.model().spib->parameters().value("decoder.2.bias").copy_from(Tensor::from_vector(std::vector<float>{1, 0}, {2}));
  testing::expect_invalid_argument([&] { trainer.refine_labels(); }, "only 1 state remains");
}

TEST(LatfTrainer, DivergenceNamesPhaseEpochAndStep) {
  DatasetOptions options;
  options.lag = 1;
  Trajectory t = ramp(400, 1.0, "ramp");
  Dataset ds = Dataset::build({t}, options);
  models::LatfConfig config;
  config.lag = 1;
  config.spib_phase.learning_rate = 1e30;  // the first update blows every weight up
  config.spib_phase.batch_size = 16;
  bool hook_called = false;
  models::Trainer trainer(config, ds, Device::cpu());
  trainer.set_divergence_hook([&] { hook_called = true; });
  try {
    trainer.train();
    FAIL() << "expected divergence";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("training diverged in the spib phase, epoch 0, step"), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(hook_called);
}

}  // namespace
}  // namespace latf
