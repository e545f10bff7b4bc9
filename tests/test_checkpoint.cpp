// Model checkpoints (models/checkpoint.hpp, docs/checkpoint-format.md): bit-exact round trips of
// the whole model and optimizer state, atomic replacement, and rejection of every kind of
// damaged file with a message that names the file.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "autodiff/tape.hpp"
#include "engine/error.hpp"
#include "models/checkpoint.hpp"
#include "tests/file_size_limit.hpp"
#include "tests/support.hpp"
#include "tests/temp_dir.hpp"

namespace latf {
namespace {

namespace fs = std::filesystem;
using models::Checkpoint;
using models::LatfConfig;
using models::LatfModel;
using Json = nlohmann::ordered_json;

// ---- fixtures and helpers ----

// A configuration with no default left, so that every field's round trip is visible.
LatfConfig odd_config() {
  LatfConfig c;
  c.lag = 7;
  c.reference_temperature = 0.7;
  c.validation_fraction = 0.15;
  c.seed = 12345678901234567890ull;  // above INT64_MAX: the header must keep all 64 bits
  c.spib.encoder = models::EncoderKind::Nonlinear;
  c.spib.latent_dim = 3;
  c.spib.encoder_width = 7;
  c.spib.decoder_width = 9;
  c.spib.beta = 3.7e-4;
  c.spib.initial_states = 33;
  c.flow.layers = 3;
  c.flow.hidden = 5;
  c.flow.tau = 2.5;
  c.flow.scale_clamp = 4.0;
  c.spib_phase = {64, 2.5e-3, 0.97, 1e-4, 3, 4, 123};
  c.joint_phase = {128, 1.0 / 3.0, 0.999, 0.02, 7, 2, 77};
  return c;
}

models::Normalization odd_normalization(int descriptors) {
  models::Normalization n;
  for (int i = 0; i < descriptors; ++i) {
    n.mean.push_back(0.1f * static_cast<float>(i) - 1.f / 3.f);
    n.scale.push_back(1.f + static_cast<float>(i) / 7.f);
  }
  return n;
}

// A model whose every weight differs from a fresh one (the flow is no longer the identity).
LatfModel perturbed_model(const LatfConfig& config, int descriptors, int states, std::uint64_t seed,
                          const Device& device = Device::cpu()) {
  LatfModel model = LatfModel::create(config, descriptors, states, odd_normalization(descriptors), 1.25, device);
  for (autodiff::ParameterSet* params : {&model.spib->parameters(), &model.flow->parameters()}) {
    Tensor flat = params->flat_values();
    flat.copy_from(testing::random_tensor(flat.shape(), seed++, -0.6, 0.6, DType::Float32, device));
  }
  return model;
}

using testing::float_bits;

void expect_same_phase(const models::PhaseConfig& a, const models::PhaseConfig& b, const char* phase) {
  SCOPED_TRACE(phase);
  EXPECT_EQ(a.batch_size, b.batch_size);
  EXPECT_EQ(a.learning_rate, b.learning_rate);
  EXPECT_EQ(a.lr_decay, b.lr_decay);
  EXPECT_EQ(a.tolerance, b.tolerance);
  EXPECT_EQ(a.patience, b.patience);
  EXPECT_EQ(a.refinements, b.refinements);
  EXPECT_EQ(a.max_epochs, b.max_epochs);
}

void expect_same_config(const LatfConfig& a, const LatfConfig& b) {
  EXPECT_EQ(a.lag, b.lag);
  EXPECT_EQ(a.reference_temperature, b.reference_temperature);
  EXPECT_EQ(a.validation_fraction, b.validation_fraction);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.spib.encoder, b.spib.encoder);
  EXPECT_EQ(a.spib.latent_dim, b.spib.latent_dim);
  EXPECT_EQ(a.spib.encoder_width, b.spib.encoder_width);
  EXPECT_EQ(a.spib.decoder_width, b.spib.decoder_width);
  EXPECT_EQ(a.spib.input_dependent_variance, b.spib.input_dependent_variance);
  EXPECT_EQ(a.spib.beta, b.spib.beta);
  EXPECT_EQ(a.spib.initial_states, b.spib.initial_states);
  EXPECT_EQ(a.flow.layers, b.flow.layers);
  EXPECT_EQ(a.flow.hidden, b.flow.hidden);
  EXPECT_EQ(a.flow.tau, b.flow.tau);
  EXPECT_EQ(a.flow.scale_clamp, b.flow.scale_clamp);
  expect_same_phase(a.spib_phase, b.spib_phase, "spib_phase");
  expect_same_phase(a.joint_phase, b.joint_phase, "joint_phase");
}

// Every tensor, name, shape and scalar of two models, bit for bit.
void expect_same_model(const LatfModel& a, const LatfModel& b) {
  expect_same_config(a.config, b.config);
  EXPECT_EQ(a.reference_temperature, b.reference_temperature);
  EXPECT_EQ(a.normalization.mean, b.normalization.mean);
  EXPECT_EQ(a.normalization.scale, b.normalization.scale);
  EXPECT_EQ(a.spib->shape().inputs, b.spib->shape().inputs);
  EXPECT_EQ(a.spib->states(), b.spib->states());
  EXPECT_EQ(a.latent_dim(), b.latent_dim());
  EXPECT_EQ(a.flow->layers(), b.flow->layers());
  for (auto sets : {std::pair{&a.spib->parameters(), &b.spib->parameters()},
                    std::pair{&a.flow->parameters(), &b.flow->parameters()}}) {
    ASSERT_EQ(sets.first->names(), sets.second->names());
    for (int i = 0; i < sets.first->count(); ++i) {
      EXPECT_EQ(sets.first->shape(i), sets.second->shape(i)) << sets.first->names()[i];
      EXPECT_EQ(float_bits(sets.first->value(i)), float_bits(sets.second->value(i))) << sets.first->names()[i];
    }
  }
}

struct Outputs {
  Tensor latent, logits, z, log_det;
};

// The model's forward pass over normalised frames: μ(x), q(k | μ) and F(μ) with its log-det.
Outputs run(const LatfModel& model, const Tensor& frames) {
  autodiff::Tape tape;
  autodiff::NoGradGuard no_grad(tape);
  const autodiff::Var x = tape.constant(frames.to(model.device()));
  const autodiff::Var mu = model.spib->encode_mean(tape, x);
  const models::FlowOutputs flow = model.flow->normalize(tape, mu);
  Outputs out{tape.value(mu), tape.value(model.spib->decode_logits(tape, mu)), tape.value(flow.out), Tensor()};
  if (flow.log_det.valid()) out.log_det = tape.value(flow.log_det);
  return out;
}

void expect_same_outputs(const Outputs& a, const Outputs& b) {
  EXPECT_EQ(float_bits(a.latent), float_bits(b.latent));
  EXPECT_EQ(float_bits(a.logits), float_bits(b.logits));
  EXPECT_EQ(float_bits(a.z), float_bits(b.z));
  ASSERT_EQ(a.log_det.defined(), b.log_det.defined());
  if (a.log_det.defined()) {
    EXPECT_EQ(float_bits(a.log_det), float_bits(b.log_det));
  }
}

// A fresh directory per test, removed afterwards.
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("latf_ckpt") {}
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The file's parts, parsed independently of the loader (docs/checkpoint-format.md §Layout).
struct Parts {
  std::uint32_t version = 0;
  Json header;
  std::string data;
};

std::size_t align64(std::size_t n) { return (n + 63) / 64 * 64; }

Parts split(const std::string& bytes) {
  Parts p;
  std::uint64_t length = 0;
  std::memcpy(&p.version, bytes.data() + 8, 4);
  std::memcpy(&length, bytes.data() + 12, 8);
  p.header = Json::parse(bytes.substr(20, length));
  p.data = bytes.substr(align64(20 + length));
  return p;
}

std::string join(const Parts& p) {
  const std::string header = p.header.dump();
  const std::uint64_t length = header.size();
  std::string bytes = "LATFCKPT";
  bytes.append(reinterpret_cast<const char*>(&p.version), 4);
  bytes.append(reinterpret_cast<const char*>(&length), 8);
  bytes += header;
  bytes.resize(align64(bytes.size()), '\0');
  return bytes + p.data;
}

Json& tensor_entry(Json& header, const std::string& group, const std::string& name) {
  for (Json& entry : header["tensors"])
    if (entry["group"] == group && entry["name"] == name) return entry;
  throw std::runtime_error("no tensor " + group + "/" + name);
}

void expect_rejected(const std::string& path, const Device& device, std::initializer_list<std::string> needles) {
  try {
    models::load_checkpoint(path, device);
    ADD_FAILURE() << "loading '" << path << "' should fail";
  } catch (const InvalidArgument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'" + path + "'"), std::string::npos) << "message does not name the file: " << message;
    for (const std::string& needle : needles)
      EXPECT_NE(message.find(needle), std::string::npos) << "'" << needle << "' missing from: " << message;
  }
}

void expect_rejected(const std::string& path, std::initializer_list<std::string> needles) {
  expect_rejected(path, Device::cpu(), needles);
}

// ---- round trips ----

TEST(Checkpoint, RoundTripsEveryFieldAndTensorBitExactly) {
  TempDir dir;
  const LatfModel model = perturbed_model(odd_config(), 5, 4, 11);
  const std::map<std::string, std::string> metadata = {
      {"phase", "joint"}, {"epoch", "17"}, {"note", "τ = 3, \"quoted\"\n"}, {"empty", ""}};
  const std::string path = dir.file("model.latf");
  models::save_checkpoint(path, model, metadata);
  const Checkpoint loaded = models::load_checkpoint(path, Device::cpu());
  expect_same_model(model, loaded.model);
  EXPECT_EQ(loaded.metadata, metadata);
  EXPECT_FALSE(loaded.spib_optimizer.has_value());
  EXPECT_FALSE(loaded.flow_optimizer.has_value());
  EXPECT_TRUE(loaded.model.device().is_cpu());

  const Tensor frames = testing::random_tensor({33, 5}, 5, -2.0, 2.0);
  const Outputs before = run(model, frames), after = run(loaded.model, frames);
  expect_same_outputs(before, after);
  // The flow was perturbed, so the comparison above is not of identity maps.
  EXPECT_NE(float_bits(before.latent), float_bits(before.z));
}

TEST(Checkpoint, SavingIsDeterministic) {
  TempDir dir;
  const LatfModel model = perturbed_model(odd_config(), 4, 3, 2);
  models::save_checkpoint(dir.file("a"), model, {{"epoch", "1"}});
  models::save_checkpoint(dir.file("b"), models::load_checkpoint(dir.file("a"), Device::cpu()).model, {{"epoch", "1"}});
  EXPECT_EQ(read_bytes(dir.file("a")), read_bytes(dir.file("b")));
}

TEST(Checkpoint, StateShrinkAfterRefinementRoundTrips) {
  TempDir dir;
  LatfModel model = perturbed_model(odd_config(), 6, 5, 3);
  model.spib = std::make_unique<models::SpibModel>(model.spib->with_states({4, 0, 2}));
  const std::string path = dir.file("refined.latf");
  models::save_checkpoint(path, model, {{"phase", "spib"}, {"round", "1"}});
  const Checkpoint loaded = models::load_checkpoint(path, Device::cpu());
  EXPECT_EQ(loaded.model.spib->states(), 3);
  EXPECT_EQ(loaded.model.spib->parameters().value("pseudo_inputs").shape(), Shape({3, 6}));
  EXPECT_EQ(loaded.model.spib->parameters().value("decoder.2.weight").shape(), Shape({3, 9}));
  EXPECT_EQ(loaded.model.spib->parameters().value("mixture_logits").shape(), Shape({3}));
  expect_same_model(model, loaded.model);
  const Tensor frames = testing::random_tensor({9, 6}, 8);
  expect_same_outputs(run(model, frames), run(loaded.model, frames));
}

struct ShapeCase {
  int descriptors, states;
  models::EncoderKind encoder;
  int latent, layers;
  bool input_dependent_variance;
};

TEST(Checkpoint, FilesOfOtherShapesLoadWithTheirShapes) {
  TempDir dir;
  const ShapeCase cases[] = {{1, 2, models::EncoderKind::Linear, 1, 1, false},
                             {3, 9, models::EncoderKind::Linear, 2, 10, true},
                             {11, 2, models::EncoderKind::Nonlinear, 4, 2, true},
                             {2, 3, models::EncoderKind::Nonlinear, 2, 0, false}};  // no flow layers at all
  for (const ShapeCase& c : cases) {
    SCOPED_TRACE(concat("D = ", c.descriptors, ", K = ", c.states, ", d = ", c.latent, ", L = ", c.layers,
                        c.input_dependent_variance ? ", log σ²(x)" : ", scalar log σ²"));
    LatfConfig config = odd_config();
    config.spib.encoder = c.encoder;
    config.spib.latent_dim = c.latent;
    config.flow.layers = c.layers;
    config.spib.input_dependent_variance = c.input_dependent_variance;
    const LatfModel model = perturbed_model(config, c.descriptors, c.states, 40);
    const std::string path = dir.file(concat("m", c.descriptors, "_", c.states, ".latf"));
    models::save_checkpoint(path, model);
    const Checkpoint loaded = models::load_checkpoint(path, Device::cpu());
    EXPECT_EQ(loaded.model.spib->shape().inputs, c.descriptors);
    EXPECT_EQ(loaded.model.spib->states(), c.states);
    EXPECT_EQ(loaded.model.flow->dim(), c.latent);
    EXPECT_EQ(loaded.model.flow->layers(), c.layers);
    EXPECT_EQ(loaded.model.normalization.mean.size(), static_cast<std::size_t>(c.descriptors));
    expect_same_model(model, loaded.model);
    const Tensor frames = testing::random_tensor({1, c.descriptors}, 3);  // a batch of one
    expect_same_outputs(run(model, frames), run(loaded.model, frames));
  }
}

// Three Adam steps on fixed pseudo-gradients.
void train_a_little(autodiff::ParameterSet& params, autodiff::Adam& adam, std::uint64_t seed) {
  for (int i = 0; i < 3; ++i) {
    params.flat_grads().copy_from(testing::random_tensor(params.flat_grads().shape(), seed + i));
    adam.step(1e-2f);
  }
}

TEST(Checkpoint, OptimizerStateRoundTripsAndResumesIdentically) {
  TempDir dir;
  LatfModel model = perturbed_model(odd_config(), 5, 4, 21);
  autodiff::Adam spib_adam(model.spib->parameters(), {2e-3f, 0.8f, 0.99f, 1e-7f, 0.01f});
  autodiff::Adam flow_adam(model.flow->parameters());
  train_a_little(model.spib->parameters(), spib_adam, 100);
  train_a_little(model.flow->parameters(), flow_adam, 200);
  flow_adam.step(1e-3f);  // a different step count from the SPIB optimizer
  const std::string path = dir.file("resume.latf");
  models::save_checkpoint(path, model, {{"phase", "joint"}}, &spib_adam, &flow_adam);
  Checkpoint loaded = models::load_checkpoint(path, Device::cpu());
  expect_same_model(model, loaded.model);

  const std::pair<autodiff::Adam*, std::optional<models::OptimizerState>*> pairs[] = {
      {&spib_adam, &loaded.spib_optimizer}, {&flow_adam, &loaded.flow_optimizer}};
  for (const auto& [adam, state] : pairs) {
    ASSERT_TRUE(state->has_value());
    const models::OptimizerState& s = **state;
    EXPECT_EQ(s.steps, adam->steps());
    EXPECT_EQ(s.config.learning_rate, adam->config().learning_rate);
    EXPECT_EQ(s.config.beta1, adam->config().beta1);
    EXPECT_EQ(s.config.beta2, adam->config().beta2);
    EXPECT_EQ(s.config.epsilon, adam->config().epsilon);
    EXPECT_EQ(s.config.weight_decay, adam->config().weight_decay);
    EXPECT_EQ(float_bits(s.first_moment), float_bits(adam->first_moment()));
    EXPECT_EQ(float_bits(s.second_moment), float_bits(adam->second_moment()));
  }
  EXPECT_EQ(loaded.spib_optimizer->steps, 3);
  EXPECT_EQ(loaded.flow_optimizer->steps, 4);

  // The resumed optimizer takes exactly the step the original takes.
  autodiff::Adam resumed(loaded.model.spib->parameters(), loaded.spib_optimizer->config);
  resumed.restore(loaded.spib_optimizer->steps, loaded.spib_optimizer->first_moment,
                  loaded.spib_optimizer->second_moment);
  const Tensor grad = testing::random_tensor(model.spib->parameters().flat_grads().shape(), 999);
  model.spib->parameters().flat_grads().copy_from(grad);
  loaded.model.spib->parameters().flat_grads().copy_from(grad);
  spib_adam.step(5e-3f);
  resumed.step(5e-3f);
  EXPECT_EQ(float_bits(model.spib->parameters().flat_values()), float_bits(loaded.model.spib->parameters().flat_values()));
  EXPECT_EQ(resumed.steps(), spib_adam.steps());
}

TEST(Checkpoint, OneOptimizerAlone) {
  TempDir dir;
  LatfModel model = perturbed_model(odd_config(), 3, 2, 5);
  autodiff::Adam spib_adam(model.spib->parameters());
  train_a_little(model.spib->parameters(), spib_adam, 7);
  models::save_checkpoint(dir.file("spib_only"), model, {}, &spib_adam);
  const Checkpoint loaded = models::load_checkpoint(dir.file("spib_only"), Device::cpu());
  ASSERT_TRUE(loaded.spib_optimizer.has_value());
  EXPECT_FALSE(loaded.flow_optimizer.has_value());
  EXPECT_EQ(float_bits(loaded.spib_optimizer->second_moment), float_bits(spib_adam.second_moment()));
}

TEST(Checkpoint, AdamRestoreRejectsMismatchedMoments) {
  LatfModel model = perturbed_model(odd_config(), 3, 2, 5);
  autodiff::Adam adam(model.spib->parameters());
  const Tensor right = Tensor::zeros(model.spib->parameters().flat_values().shape());
  const Tensor wrong = Tensor::zeros({3});
  EXPECT_THROW(adam.restore(-1, right, right), InvalidArgument);
  try {
    adam.restore(1, right, wrong);
    ADD_FAILURE() << "a moment of the wrong shape was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("second_moment"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, SaveRejectsAnOptimizerOfAnotherModel) {
  TempDir dir;
  const LatfModel model = perturbed_model(odd_config(), 5, 4, 1);
  LatfModel other = perturbed_model(odd_config(), 2, 2, 1);
  autodiff::Adam adam(other.spib->parameters());
  const std::string path = dir.file("x");
  try {
    models::save_checkpoint(path, model, {}, &adam);
    ADD_FAILURE() << "an optimizer of another model was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("optimizer.spib.m"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(dir.entries().empty());
}

// ---- the documented layout ----

TEST(Checkpoint, FileHasTheDocumentedLayout) {
  TempDir dir;
  LatfModel model = perturbed_model(odd_config(), 5, 4, 9);
  autodiff::Adam adam(model.flow->parameters());
  models::save_checkpoint(dir.file("m"), model, {{"k", "v"}}, nullptr, &adam);
  const std::string bytes = read_bytes(dir.file("m"));
  ASSERT_EQ(bytes.substr(0, 8), "LATFCKPT");
  Parts parts = split(bytes);
  EXPECT_EQ(parts.version, 1u);
  EXPECT_EQ(bytes[20], '{');
  const Json& h = parts.header;
  std::vector<std::string> keys;
  for (const auto& [key, value] : h.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"format_version", "engine_version", "config", "model", "optimizers",
                                            "metadata", "data_size", "tensors"}));
  EXPECT_EQ(h["format_version"], 1);
  ASSERT_TRUE(h["engine_version"].is_string());
  EXPECT_NE(h["engine_version"], "");
  EXPECT_NE(h["engine_version"], "unknown");
  EXPECT_EQ(h["config"]["spib"]["encoder"], "nonlinear");
  EXPECT_EQ(h["config"]["seed"].get<std::uint64_t>(), 12345678901234567890ull);
  EXPECT_EQ(h["model"]["descriptors"], 5);
  EXPECT_EQ(h["model"]["states"], 4);
  EXPECT_EQ(h["model"]["latent_dim"], 3);
  EXPECT_FALSE(h["optimizers"].contains("spib"));
  EXPECT_EQ(h["optimizers"]["flow"]["steps"], 0);
  EXPECT_EQ(h["data_size"].get<std::size_t>(), parts.data.size());
  std::map<std::string, int> per_group;
  std::size_t end = 0;
  for (const Json& t : h["tensors"]) {
    ++per_group[t["group"].get<std::string>()];
    const std::size_t offset = t["offset"].get<std::size_t>(), size = t["bytes"].get<std::size_t>();
    EXPECT_EQ(offset % 64, 0u);
    EXPECT_GE(offset, end) << "blobs overlap";
    EXPECT_EQ(t["dtype"], "float32");
    end = offset + size;
  }
  EXPECT_EQ(end, parts.data.size());
  EXPECT_EQ(per_group, (std::map<std::string, int>{{"spib", model.spib->parameters().count()},
                                                   {"flow", model.flow->parameters().count()},
                                                   {"optimizer.flow.m", model.flow->parameters().count()},
                                                   {"optimizer.flow.v", model.flow->parameters().count()}}));
  // A blob holds the parameter's float32 values as they are in memory.
  const Json& w = tensor_entry(parts.header, "spib", "pseudo_inputs");
  std::vector<float> stored(20);
  std::memcpy(stored.data(), parts.data.data() + w["offset"].get<std::size_t>(), 20 * sizeof(float));
  EXPECT_EQ(stored, model.spib->parameters().value("pseudo_inputs").to_vector());
}

// ---- atomic replacement ----

TEST(CheckpointAtomicWrite, ReplacesTheOldFileAndLeavesNoTemporaries) {
  TempDir dir;
  const std::string path = dir.file("model.latf");
  models::save_checkpoint(path, perturbed_model(odd_config(), 5, 4, 1), {{"epoch", "1"}});
  const LatfModel second = perturbed_model(odd_config(), 3, 2, 2);
  models::save_checkpoint(path, second, {{"epoch", "2"}});
  const Checkpoint loaded = models::load_checkpoint(path, Device::cpu());
  EXPECT_EQ(loaded.metadata.at("epoch"), "2");
  expect_same_model(second, loaded.model);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"model.latf"}));
}

void expect_save_fails(const std::function<void()>& save, const std::string& path) {
  try {
    save();
    ADD_FAILURE() << "the save should fail";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(CheckpointAtomicWrite, FailedWritesLeaveTheOldFileIntact) {
  TempDir dir;
  const std::string path = dir.file("model.latf");
  models::save_checkpoint(path, perturbed_model(odd_config(), 5, 4, 1), {{"epoch", "1"}});
  const std::string old_bytes = read_bytes(path);
  const LatfModel bigger = perturbed_model(odd_config(), 40, 30, 2);

  {  // the disk "fills up" halfway through the new file
    testing::FileSizeLimit limit(old_bytes.size() / 2);
    expect_save_fails([&] { models::save_checkpoint(path, bigger, {{"epoch", "2"}}); }, path);
  }
  EXPECT_EQ(read_bytes(path), old_bytes);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"model.latf"}));

  LatfModel broken = perturbed_model(odd_config(), 5, 4, 3);  // rejected before anything is written
  broken.flow->parameters().value("flow.1.a").fill(NAN);
  expect_save_fails([&] { models::save_checkpoint(path, broken); }, path);
  EXPECT_EQ(read_bytes(path), old_bytes);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"model.latf"}));

  if (::geteuid() != 0) {  // root writes into read-only directories regardless
    fs::permissions(fs::path(path).parent_path(), fs::perms::owner_read | fs::perms::owner_exec);
    expect_save_fails([&] { models::save_checkpoint(path, bigger); }, path);
    fs::permissions(fs::path(path).parent_path(), fs::perms::owner_all);
    EXPECT_EQ(read_bytes(path), old_bytes);
    EXPECT_EQ(dir.entries(), (std::vector<std::string>{"model.latf"}));
  }
}

TEST(CheckpointAtomicWrite, UnwritableTargetsFailNamingThePath) {
  TempDir dir;
  const LatfModel model = perturbed_model(odd_config(), 3, 2, 1);
  const std::string missing = dir.file("no_such_dir/model.latf");
  expect_save_fails([&] { models::save_checkpoint(missing, model); }, missing);
  fs::create_directories(dir.file("taken/inside"));
  const std::string taken = dir.file("taken");  // rename() cannot replace a non-empty directory
  expect_save_fails([&] { models::save_checkpoint(taken, model); }, taken);
  EXPECT_TRUE(fs::is_directory(dir.file("taken/inside")));
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"taken"}));
}

TEST(CheckpointAtomicWrite, MetadataThatIsNotUtf8IsRejected) {
  TempDir dir;
  const std::string path = dir.file("m");
  expect_save_fails(
      [&] {
        models::save_checkpoint(path, perturbed_model(odd_config(), 3, 2, 1), {{"x", "\xff\xfe"}});
      },
      path);
  EXPECT_TRUE(dir.entries().empty());
}

// ---- damaged files ----

class CheckpointDamage : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = std::make_unique<LatfModel>(perturbed_model(odd_config(), 5, 4, 31));
    spib_adam_ = std::make_unique<autodiff::Adam>(model_->spib->parameters());
    train_a_little(model_->spib->parameters(), *spib_adam_, 50);
    good_path_ = dir_.file("good.latf");
    models::save_checkpoint(good_path_, *model_, {{"epoch", "3"}}, spib_adam_.get());
    good_ = read_bytes(good_path_);
    path_ = dir_.file("bad.latf");
  }
  // Writes the good file, edited, to path_.
  void write_edited(const std::function<void(Parts&)>& edit) {
    Parts parts = split(good_);
    edit(parts);
    write_bytes(path_, join(parts));
  }

  TempDir dir_;
  std::unique_ptr<LatfModel> model_;
  std::unique_ptr<autodiff::Adam> spib_adam_;
  std::string good_path_, good_, path_;
};

TEST_F(CheckpointDamage, UneditedRewriteStillLoads) {  // the editing helpers themselves are faithful
  write_edited([](Parts&) {});
  expect_same_model(*model_, models::load_checkpoint(path_, Device::cpu()).model);
}

TEST_F(CheckpointDamage, TruncationAnywhereIsReported) {
  std::vector<std::size_t> cuts;
  for (std::size_t n = 0; n < 64; ++n) cuts.push_back(n);
  for (std::size_t n = 64; n < good_.size(); n += 61) cuts.push_back(n);
  cuts.push_back(good_.size() - 1);
  for (std::size_t n : cuts) {
    SCOPED_TRACE(concat("cut at ", n, " of ", good_.size(), " bytes"));
    write_bytes(path_, good_.substr(0, n));
    expect_rejected(path_, {"truncated"});
  }
}

TEST_F(CheckpointDamage, TrailingBytesAreReported) {
  write_bytes(path_, good_ + "x");
  expect_rejected(path_, {"1 unexpected bytes"});
}

TEST_F(CheckpointDamage, BadMagic) {
  std::string bytes = good_;
  bytes[3] = 'X';
  write_bytes(path_, bytes);
  expect_rejected(path_, {"not a LaTF checkpoint", "magic"});
  write_bytes(path_, "PK\x03\x04 some zip file");
  expect_rejected(path_, {"not a LaTF checkpoint"});
  write_bytes(path_, "");
  expect_rejected(path_, {"empty"});
}

TEST_F(CheckpointDamage, NewerAndUnknownVersions) {
  write_edited([](Parts& p) { p.version = 2; });
  expect_rejected(path_, {"format version 2 is newer", "version 1"});
  write_edited([](Parts& p) { p.version = 0; });
  expect_rejected(path_, {"unsupported format version 0", "version 1"});
  write_edited([](Parts& p) { p.header["format_version"] = 7; });
  expect_rejected(path_, {"format_version", "7 disagrees"});
}

TEST_F(CheckpointDamage, HeaderThatIsNotJson) {
  std::string bytes = good_;
  bytes[20] = '#';
  write_bytes(path_, bytes);
  expect_rejected(path_, {"not valid JSON"});
  write_edited([](Parts& p) { p.header = Json::array({1, 2}); });
  expect_rejected(path_, {"not a JSON object"});
}

TEST_F(CheckpointDamage, MissingKeysAreNamedByTheirPath) {
  const std::vector<std::vector<std::string>> paths = {{"config", "flow", "tau"},
                                                       {"config", "joint_phase", "patience"},
                                                       {"model", "normalization", "scale"},
                                                       {"model", "states"},
                                                       {"optimizers", "spib", "config", "beta2"},
                                                       {"metadata"},
                                                       {"tensors"},
                                                       {"data_size"},
                                                       {"engine_version"}};
  for (const auto& keys : paths) {
    std::string dotted;
    for (const std::string& k : keys) dotted += (dotted.empty() ? "" : ".") + k;
    SCOPED_TRACE(dotted);
    write_edited([&](Parts& p) {
      Json* node = &p.header;
      for (std::size_t i = 0; i + 1 < keys.size(); ++i) node = &(*node)[keys[i]];
      node->erase(keys.back());
    });
    expect_rejected(path_, {"missing key '" + dotted + "'"});
  }
}

TEST_F(CheckpointDamage, WrongTypesAndValues) {
  write_edited([](Parts& p) { p.header["model"]["states"] = "four"; });
  expect_rejected(path_, {"model.states", "expected an integer"});
  write_edited([](Parts& p) { p.header["config"]["spib"]["input_dependent_variance"] = 1; });
  expect_rejected(path_, {"config.spib.input_dependent_variance", "expected true or false"});
  write_edited([](Parts& p) { p.header["config"]["spib"]["encoder"] = "conv"; });
  expect_rejected(path_, {"config.spib.encoder", "conv"});
  write_edited([](Parts& p) { p.header["config"]["lag"] = 0; });
  expect_rejected(path_, {"invalid config", "lag"});
  write_edited([](Parts& p) { p.header["config"]["seed"] = -1; });
  expect_rejected(path_, {"config.seed"});
  write_edited([](Parts& p) { p.header["model"]["latent_dim"] = 2; });
  expect_rejected(path_, {"model.latent_dim", "config.spib.latent_dim"});
  write_edited([](Parts& p) { p.header["model"]["normalization"]["scale"][2] = 0.0; });
  expect_rejected(path_, {"model.normalization.scale[2]", "positive"});
  write_edited([](Parts& p) { p.header["model"]["normalization"]["mean"].erase(1); });
  expect_rejected(path_, {"model.normalization.mean", "4 values, expected 5"});
  write_edited([](Parts& p) { p.header["model"]["reference_temperature"] = -1.0; });
  expect_rejected(path_, {"model.reference_temperature"});
  write_edited([](Parts& p) { p.header["metadata"]["epoch"] = 3; });
  expect_rejected(path_, {"metadata.epoch", "expected a string"});
  write_edited([](Parts& p) { p.header["optimizers"]["spib"]["config"]["beta1"] = 1.5; });
  expect_rejected(path_, {"spib optimizer", "beta1"});
  write_edited([](Parts& p) { p.header["optimizers"]["decoder"] = Json::object(); });
  expect_rejected(path_, {"unknown optimizer 'decoder'"});
}

TEST_F(CheckpointDamage, ShapesThatDisagreeWithTheConfig) {
  write_edited([](Parts& p) { tensor_entry(p.header, "spib", "decoder.2.weight")["shape"] = {5, 9}; });
  expect_rejected(path_, {"'spib/decoder.2.weight'", "[5, 9]", "[4, 9]"});
  // The header claims K = 5 over tensors written for K = 4.
  write_edited([](Parts& p) { p.header["model"]["states"] = 5; });
  expect_rejected(path_, {"[4, 9]", "needs [5, 9]", "K = 5"});
  write_edited([](Parts& p) { tensor_entry(p.header, "optimizer.spib.v", "pseudo_inputs")["shape"] = {20}; });
  expect_rejected(path_, {"'optimizer.spib.v/pseudo_inputs'", "[4, 5]"});
  write_edited([](Parts& p) { tensor_entry(p.header, "flow", "flow.0.a")["bytes"] = 16; });
  expect_rejected(path_, {"'flow/flow.0.a'", "16 bytes", "12 expected"});
  write_edited([](Parts& p) { tensor_entry(p.header, "flow", "flow.0.a")["dtype"] = "float64"; });
  expect_rejected(path_, {"flow/flow.0.a", "float32"});
  // The header describes a model far bigger than the data it carries.
  write_edited([](Parts& p) { p.header["model"]["descriptors"] = 2000000000; });
  expect_rejected(path_, {"too small for the model"});
}

TEST_F(CheckpointDamage, BlobsOutOfRange) {
  write_edited([](Parts& p) {
    tensor_entry(p.header, "spib", "log_variance")["offset"] = p.data.size() + 64 - p.data.size() % 64;
  });
  expect_rejected(path_, {"'spib/log_variance'", "outside"});
  write_edited([](Parts& p) { tensor_entry(p.header, "spib", "log_variance")["offset"] = 4; });
  expect_rejected(path_, {"'spib/log_variance'", "not a multiple of 64"});
  write_edited([](Parts& p) { p.header["data_size"] = p.data.size() + 64; });
  expect_rejected(path_, {"truncated"});
}

TEST_F(CheckpointDamage, TensorListDefects) {
  write_edited([](Parts& p) {
    auto& list = p.header["tensors"];
    for (auto it = list.begin(); it != list.end(); ++it)
      if ((*it)["group"] == "flow" && (*it)["name"] == "flow.2.shift_net") {
        list.erase(it);
        break;
      }
  });
  expect_rejected(path_, {"'flow/flow.2.shift_net' is missing"});
  write_edited([](Parts& p) { p.header["tensors"].push_back(tensor_entry(p.header, "spib", "log_variance")); });
  expect_rejected(path_, {"'spib/log_variance' appears twice"});
  write_edited([](Parts& p) { tensor_entry(p.header, "spib", "log_variance")["name"] = "log_sigma"; });
  expect_rejected(path_, {"'spib/log_sigma' is not a parameter"});
  // Moments without their optimizer entry.
  write_edited([](Parts& p) { p.header["optimizers"].erase("spib"); });
  expect_rejected(path_, {"unknown tensor group 'optimizer.spib.m'"});
  // An optimizer entry without its moments.
  write_edited([](Parts& p) { p.header["optimizers"]["flow"] = p.header["optimizers"]["spib"]; });
  expect_rejected(path_, {"'optimizer.flow.m/flow.0.scale_net' is missing"});
}

TEST_F(CheckpointDamage, NonFiniteValuesNameTheTensor) {
  const struct {
    const char* group;
    const char* name;
    float value;
  } cases[] = {{"spib", "encoder.1.weight", NAN},
               {"flow", "flow.2.a", INFINITY},
               {"optimizer.spib.v", "decoder.0.bias", -INFINITY}};
  for (const auto& c : cases) {
    SCOPED_TRACE(concat(c.group, "/", c.name));
    write_edited([&](Parts& p) {
      const std::size_t offset = tensor_entry(p.header, c.group, c.name)["offset"].get<std::size_t>();
      std::memcpy(p.data.data() + offset + 2 * sizeof(float), &c.value, sizeof(float));
    });
    expect_rejected(path_, {concat("'", c.group, "/", c.name, "'"), "non-finite", "element 2"});
  }
}

TEST_F(CheckpointDamage, MissingFileAndDirectory) {
  const std::string missing = dir_.file("nothing_here.latf");
  expect_rejected(missing, {"no such file"});
  expect_rejected(dir_.file("nothing_here/x.latf"), {"no such file"});
  fs::create_directory(dir_.file("folder.latf"));
  expect_rejected(dir_.file("folder.latf"), {"not a regular file"});
}

}  // namespace
}  // namespace latf
