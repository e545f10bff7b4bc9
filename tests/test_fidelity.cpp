// Fidelity against the PyTorch twin (llm.c's "debug state" idea): bench/peer/make_fidelity_fixture.py
// ran the whole LaTF objective in PyTorch (float64) for 50 Adam steps of the SPIB phase and 50 of
// the joint phase on one batch, from given weights and noise, and stored the losses and the flat
// gradients before every update (tests/data/fidelity/README.md). The engine repeats the same 100
// steps from the same weights — its own loss, backward and Adam, in float32 — and must agree:
//   losses:    |ours − twin| ≤ 1e-4·|twin| for the total, reconstruction and prior term;
//   gradients: per parameter tensor, max_i |ours_i − twin_i| ≤ 1e-3·max(max_i |twin_i|, 1e-6)
//              (relative to the tensor's largest twin entry: summation order differs per
//              implementation, so small entries carry the absolute error of large ones; the
//              1e-6 floor only matters for tensors with no gradient, e.g. the VampPrior's
//              parameters in the joint phase, where both sides must then be ~0).
// The float32 twin stays within ~2e-6 of the stored float64 run, so the tolerances leave room for
// float32 rounding over 100 steps while any wrong term, weight or sign shows up at once.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

#include "autodiff/optimizer.hpp"
#include "data/npy.hpp"
#include "models/latf_model.hpp"
#include "models/loss.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

namespace fs = std::filesystem;

constexpr double kLossTolerance = 1e-4;
constexpr double kGradientTolerance = 1e-3;
constexpr double kGradientFloor = 1e-6;

// LATF_FIDELITY_FIXTURE points the test at another fixture (e.g. one made from a deliberately
// broken twin, to see the test fail).
fs::path fixture_dir() {
  if (const char* dir = std::getenv("LATF_FIDELITY_FIXTURE")) return dir;
  return fs::path(__FILE__).parent_path() / "data" / "fidelity";
}

data::NpyArray load_array(const std::string& name) {
  return data::read_npy((fixture_dir() / (name + ".npy")).string());
}
Tensor load_tensor(const std::string& name) { return data::npy_to_tensor(load_array(name)); }

// float64 arrays exactly (npy_to_tensor would round them to float32).
std::vector<double> load_doubles(const std::string& name) {
  const data::NpyArray array = load_array(name);
  std::vector<double> values(static_cast<std::size_t>(array.numel()));
  if (array.type == data::NpyType::Float64) {
    std::memcpy(values.data(), array.bytes.data(), values.size() * sizeof(double));
  } else {
    const std::vector<float> f = data::npy_to_tensor(array).to_vector();
    values.assign(f.begin(), f.end());
  }
  return values;
}

// settings.npy, in the order of make_fidelity_fixture.py's SETTINGS.
struct Settings {
  int inputs, states, latent_dim, decoder_width, layers, hidden;
  double tau, beta, learning_rate;
  int batch, spib_steps, joint_steps;
};
Settings load_settings() {
  const std::vector<double> v = load_doubles("settings");
  if (v.size() != 12) throw std::runtime_error("settings.npy: expected 12 values");
  const auto i = [&](int k) { return static_cast<int>(v[k]); };
  return {i(0), i(1), i(2), i(3), i(4), i(5), v[6], v[7], v[8], i(9), i(10), i(11)};
}

void load_parameters(autodiff::ParameterSet& set) {
  for (int i = 0; i < set.count(); ++i) {
    const std::string& name = set.names()[i];
    const Tensor value = load_tensor("initial/" + name);
    ASSERT_EQ(value.shape(), set.shape(i)) << name << ": fixture " << value.shape().str() << ", engine "
                                           << set.shape(i).str();
    set.value(i).copy_from(value);
  }
}

struct Worst {
  double error = 0;
  std::string where;
  void update(double e, const std::string& at) {
    if (e > error) error = e, where = at;
  }
};

class Comparison {
 public:
  // Per-tensor gradient check of `set` against the twin's flat row (the engine's declaration
  // order, which is the twin's packing order).
  void gradients(const autodiff::ParameterSet& set, const float* twin, int step, const char* phase) {
    std::int64_t offset = 0;
    for (int i = 0; i < set.count(); ++i) {
      const std::vector<float> ours = set.grad(i).to_vector();
      double scale = 0, gap = 0;
      for (std::size_t j = 0; j < ours.size(); ++j) scale = std::max(scale, std::abs(double(twin[offset + j])));
      for (std::size_t j = 0; j < ours.size(); ++j) gap = std::max(gap, std::abs(double(ours[j]) - twin[offset + j]));
      const double error = gap / std::max(scale, kGradientFloor);
      std::ostringstream where;
      where << phase << " step " << step << " d/d " << set.names()[i] << " (max |g| " << scale << ")";
      worst_gradient_.update(error, where.str());
      if (error > kGradientTolerance) fail(where.str(), error);
      offset += static_cast<std::int64_t>(ours.size());
    }
    EXPECT_EQ(offset, set.size());
  }

  void loss(const char* term, double ours, double twin, int step, const char* phase) {
    const double error = std::abs(ours - twin) / std::abs(twin);
    std::ostringstream where;
    where << phase << " step " << step << " " << term << " (ours " << ours << ", twin " << twin << ")";
    worst_loss_.update(error, where.str());
    if (error > kLossTolerance) fail(where.str(), error);
  }

  void report() const {
    std::cout << "worst loss error " << worst_loss_.error << " at " << worst_loss_.where << "\n"
              << "worst gradient error " << worst_gradient_.error << " at " << worst_gradient_.where << "\n";
    EXPECT_EQ(failures_, 0) << failures_ << " comparisons out of tolerance; the first ones:\n" << first_failures_.str();
  }

 private:
  void fail(const std::string& where, double error) {
    if (failures_++ < 12) first_failures_ << "  " << where << ": error " << error << "\n";
  }
  Worst worst_loss_, worst_gradient_;
  int failures_ = 0;
  std::ostringstream first_failures_;
};

TEST(Fidelity, HundredAdamStepsMatchPyTorchTwin) {
  const Settings s = load_settings();
  models::LatfConfig config;
  config.spib.encoder = models::EncoderKind::Linear;
  config.spib.latent_dim = s.latent_dim;
  config.spib.decoder_width = s.decoder_width;
  config.spib.beta = s.beta;
  config.flow.layers = s.layers;
  config.flow.hidden = s.hidden;
  config.flow.tau = s.tau;
  models::LatfModel model = models::LatfModel::create(config, s.inputs, s.states, {}, 1.0, Device::cpu());
  autodiff::ParameterSet& spib_params = model.spib->parameters();
  autodiff::ParameterSet& flow_params = model.flow->parameters();
  load_parameters(spib_params);
  load_parameters(flow_params);
  if (HasFatalFailure()) return;

  const Tensor inputs = load_tensor("inputs"), targets = load_tensor("targets"), weights = load_tensor("weights"),
               inverse_temperature = load_tensor("inverse_temperature"), noise = load_tensor("noise");
  const int steps = s.spib_steps + s.joint_steps;
  ASSERT_EQ(noise.shape(), Shape({steps, s.batch, s.latent_dim}));
  const std::vector<double> losses = load_doubles("losses");
  const std::vector<float> spib_grads = load_tensor("spib_gradients").to_vector();
  const std::vector<float> flow_grads = load_tensor("flow_gradients").to_vector();
  ASSERT_EQ(losses.size(), 3u * steps);
  ASSERT_EQ(spib_grads.size(), static_cast<std::size_t>(steps * spib_params.size()));
  ASSERT_EQ(flow_grads.size(), static_cast<std::size_t>(s.joint_steps * flow_params.size()));

  Comparison compare;
  autodiff::Tape tape;
  std::unique_ptr<autodiff::Adam> spib_adam, flow_adam;
  for (int step = 0; step < steps; ++step) {
    const bool joint = step >= s.spib_steps;
    const models::Phase phase = joint ? models::Phase::Joint : models::Phase::Spib;
    if (step == 0 || step == s.spib_steps) {  // fresh optimizers at the start of each phase
      spib_adam = std::make_unique<autodiff::Adam>(spib_params);
      flow_adam = joint ? std::make_unique<autodiff::Adam>(flow_params) : nullptr;
    }
    tape.clear();
    spib_params.zero_grad();
    flow_params.zero_grad();
    const models::BatchVars batch{tape.constant(inputs), tape.constant(targets), tape.constant(weights),
                                  tape.constant(inverse_temperature),
                                  tape.constant(noise.view(std::int64_t(step) * s.batch * s.latent_dim,
                                                           {s.batch, s.latent_dim}))};
    const models::LossVars loss = models::latf_loss(tape, *model.spib, *model.flow, phase, batch, s.beta, s.tau);
    const char* name = models::phase_name(phase);
    const int local = joint ? step - s.spib_steps : step;
    compare.loss("total", tape.value(loss.total).item(), losses[3 * step], local, name);
    compare.loss("reconstruction", tape.value(loss.reconstruction).item(), losses[3 * step + 1], local, name);
    compare.loss("prior", tape.value(loss.prior).item(), losses[3 * step + 2], local, name);
    tape.backward(loss.total);
    compare.gradients(spib_params, spib_grads.data() + std::int64_t(step) * spib_params.size(), local, name);
    if (joint)
      compare.gradients(flow_params, flow_grads.data() + std::int64_t(local) * flow_params.size(), local, name);
    spib_adam->step(static_cast<float>(s.learning_rate));
    if (flow_adam) flow_adam->step(static_cast<float>(s.learning_rate));
  }
  compare.report();
}

}  // namespace
}  // namespace latf
