// Checkpoints across devices: a model saved from one backend loads on the other with the same
// bits, and computes what the original computes.
#include <unistd.h>

#include <filesystem>

#include "autodiff/tape.hpp"
#include "engine/error.hpp"
#include "models/checkpoint.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

namespace fs = std::filesystem;
using models::LatfModel;

models::LatfConfig config() {
  models::LatfConfig c;
  c.spib.encoder = models::EncoderKind::Nonlinear;
  c.spib.latent_dim = 3;
  c.spib.encoder_width = 7;
  c.flow.layers = 4;  // hidden stays 16: the fused CUDA conditioners take widths 16, 32, 64
  c.flow.scale_clamp = 3.0;
  return c;
}

LatfModel perturbed_model(const Device& device) {
  models::Normalization n{{0.5f, -1.f, 2.f, 0.f, 3.f}, {1.f, 2.f, 0.5f, 1.5f, 4.f}};
  LatfModel model = LatfModel::create(config(), 5, 4, n, 1.5, device);
  std::uint64_t seed = 70;
  for (autodiff::ParameterSet* params : {&model.spib->parameters(), &model.flow->parameters()}) {
    Tensor flat = params->flat_values();
    flat.copy_from(testing::random_tensor(flat.shape(), seed++, -0.5, 0.5, DType::Float32, device));
  }
  return model;
}

using testing::float_bits;

// μ(x), the decoder logits, F(μ) and its log-det, on the model's device.
std::vector<Tensor> run(const LatfModel& model, const Tensor& frames) {
  autodiff::Tape tape;
  autodiff::NoGradGuard no_grad(tape);
  const autodiff::Var mu = model.spib->encode_mean(tape, tape.constant(frames.to(model.device())));
  const models::FlowOutputs flow = model.flow->normalize(tape, mu);
  return {tape.value(mu), tape.value(model.spib->decode_logits(tape, mu)), tape.value(flow.out),
          tape.value(flow.log_det)};
}

void expect_same_weights(const LatfModel& a, const LatfModel& b) {
  EXPECT_EQ(float_bits(a.spib->parameters().flat_values()), float_bits(b.spib->parameters().flat_values()));
  EXPECT_EQ(float_bits(a.flow->parameters().flat_values()), float_bits(b.flow->parameters().flat_values()));
}

// `tolerance` bounds max_relative_error of every output (see support.hpp).
void expect_same_outputs(const LatfModel& a, const LatfModel& b, double tolerance) {
  const Tensor frames = testing::random_tensor({257, 5}, 3, -2.0, 2.0);
  const std::vector<Tensor> x = run(a, frames), y = run(b, frames);
  const char* names[] = {"latent", "logits", "z", "log_det"};
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_LT(testing::max_relative_error(x[i], y[i]), tolerance) << names[i];
}

std::string temp_file(const char* name) {
  return (fs::temp_directory_path() / concat("latf_gpu_ckpt_", ::getpid(), "_", name)).string();
}

TEST(GpuCheckpoint, SavedOnCpuLoadsOnCuda) {
  LATF_SKIP_WITHOUT_GPU();
  const std::string path = temp_file("cpu.latf");
  const LatfModel cpu = perturbed_model(Device::cpu());
  models::save_checkpoint(path, cpu, {{"device", "cpu"}});
  const models::Checkpoint loaded = models::load_checkpoint(path, Device::cuda(0));
  fs::remove(path);
  ASSERT_TRUE(loaded.model.device().is_cuda());
  expect_same_weights(cpu, loaded.model);
  // Against the same weights computed on the GPU, the loaded model is the original model.
  expect_same_outputs(perturbed_model(Device::cuda(0)), loaded.model, 1e-6);
  // Across backends the kernels' own CPU/CUDA agreement bounds the difference (gpu_linear,
  // gpu_flow_layers: 1e-5).
  expect_same_outputs(cpu, loaded.model, 1e-5);
}

TEST(GpuCheckpoint, SavedFromCudaLoadsOnCpu) {
  LATF_SKIP_WITHOUT_GPU();
  const std::string path = temp_file("cuda.latf");
  LatfModel cuda = perturbed_model(Device::cuda(0));
  autodiff::Adam adam(cuda.spib->parameters());
  for (int i = 0; i < 3; ++i) {
    Tensor grads = cuda.spib->parameters().flat_grads();
    grads.copy_from(testing::random_tensor(grads.shape(), 90 + i, -1.0, 1.0, DType::Float32, Device::cuda(0)));
    adam.step(1e-2f);
  }
  models::save_checkpoint(path, cuda, {{"device", "cuda"}}, &adam);
  const models::Checkpoint loaded = models::load_checkpoint(path, Device::cpu());
  fs::remove(path);
  ASSERT_TRUE(loaded.model.device().is_cpu());
  expect_same_weights(cuda, loaded.model);
  ASSERT_TRUE(loaded.spib_optimizer.has_value());
  EXPECT_EQ(loaded.spib_optimizer->steps, 3);
  EXPECT_EQ(float_bits(loaded.spib_optimizer->first_moment), float_bits(adam.first_moment()));
  EXPECT_EQ(float_bits(loaded.spib_optimizer->second_moment), float_bits(adam.second_moment()));
  expect_same_outputs(cuda, loaded.model, 1e-5);
  // And back onto the GPU: CUDA → file → CUDA reproduces the CUDA model's outputs.
  models::save_checkpoint(path, loaded.model);
  const models::Checkpoint again = models::load_checkpoint(path, Device::cuda(0));
  fs::remove(path);
  expect_same_outputs(cuda, again.model, 1e-6);
}

}  // namespace
}  // namespace latf
