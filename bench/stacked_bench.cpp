// latf_stacked_bench: throughput of batched models (docs/batched_models.md). One training step of M
// stacked models — noise drawn per model, stacked loss recorded, backward, ModelAdam on the SPIB
// set (and the flow set in the joint phase) — timed for each M, next to the step of one model on
// the single-model path (latf_loss + Adam). Reports model-steps per second and the gain of each M
// over the single-model step, measured side by side in one run. The batch gather of the trainer
// is not included (the batch stays fixed). Reference three-hole shapes: D = 2, d = 2, linear
// encoder, decoder width 16, 10 coupling layers of width 16, batch 512.
//   latf_stacked_bench --json PATH [--device cpu|cuda] [--models 1,8,64] [--phases spib,joint]
//                      [--batch B] [--states K] [--budget SECONDS] [--graphs on|off]
// --graphs on (CUDA): each stacked case is timed again with its step recorded once as a CUDA Graph
// and replayed (engine/step_graph.hpp), as StackedTrainer runs it on a GPU.
#include <iostream>
#include <memory>
#include <sstream>

#include "bench/bench_support.hpp"
#include "engine/error.hpp"
#include "engine/random_fill.hpp"
#include "engine/step_graph.hpp"
#include "kernels/permutation.hpp"
#include "models/latf_model.hpp"
#include "models/layers.hpp"
#include "models/loss.hpp"

namespace latf::bench {
namespace {

struct Options {
  Device device = Device::cpu();
  std::vector<int> models = {1, 8, 64};
  std::vector<std::string> phases = {"spib", "joint"};
  int batch = 512, states = 4;
  double budget = 2.0;
  bool graphs = false;  // also time the stacked steps replayed as CUDA Graphs (CUDA only)
  std::string json_path, command;
};

Options parse(int argc, char** argv) {
  Options o;
  o.command = command_line(argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    LATF_REQUIRE(i + 1 < argc, arg, ": expected a value");
    const std::string value = argv[++i];
    if (arg == "--device") o.device = parse_device(value);
    else if (arg == "--models") {
      o.models.clear();
      for (const std::string& m : split_list(value)) o.models.push_back(std::stoi(m));
    } else if (arg == "--phases") o.phases = split_list(value);
    else if (arg == "--batch") o.batch = std::stoi(value);
    else if (arg == "--states") o.states = std::stoi(value);
    else if (arg == "--budget") o.budget = std::stod(value);
    else if (arg == "--graphs") o.graphs = value == "on";
    else if (arg == "--json") o.json_path = value;
    else throw InvalidArgument(concat("unknown option ", arg));
  }
  LATF_REQUIRE(!o.json_path.empty(), "--json is required");
  for (int m : o.models) LATF_REQUIRE(m >= 1, "--models: expected counts >= 1, got ", m);
  for (const std::string& p : o.phases) LATF_REQUIRE(p == "spib" || p == "joint", "--phases: unknown phase ", p);
  LATF_REQUIRE(o.batch >= 1 && o.states >= 2 && o.budget > 0, "--batch, --states, --budget: out of range");
  return o;
}

// A fixed batch of `count` model slices ([count, B, ...]; count = 0: the single-model shapes).
struct BatchTensors {
  Tensor inputs, targets, weights, inverse_temperature, noise;
};

BatchTensors make_batch(int count, const Options& o) {
  const std::int64_t rows = o.batch;
  BatchTensors b;
  b.inputs = random_normal(models::stacked_shape({rows, 2}, count), o.device, 1);
  std::vector<float> one_hot(static_cast<std::size_t>(std::max(count, 1)) * rows * o.states, 0.f);
  for (std::size_t r = 0; r < one_hot.size() / o.states; ++r) one_hot[r * o.states + (r * 7) % o.states] = 1.f;
  b.targets = Tensor::from_vector(one_hot, models::stacked_shape({rows, o.states}, count), o.device);
  b.weights = random_uniform(models::stacked_shape({rows}, count), o.device, 2, 0.5, 1.5);
  b.inverse_temperature = random_uniform(models::stacked_shape({rows}, count), o.device, 3, 0.5, 1.0);
  b.noise = Tensor::empty(models::stacked_shape({rows, 2}, count), o.device);
  return b;
}

struct Case {
  std::string phase, path;  // path: "single" or "stacked"
  int models = 1;
  double seconds_per_step = 0;
  std::int64_t steps = 0;
};

models::LatfModel fresh_model(int seed, const Options& o) {
  models::LatfConfig config;
  config.seed = static_cast<std::uint64_t>(seed);
  models::LatfModel model =
      models::LatfModel::create(config, 2, o.states, models::Normalization{{0, 0}, {1, 1}}, 1.0, o.device);
  Tensor flow = model.flow->parameters().flat_values();
  fill_uniform(flow, 100 + seed, 0, -0.2, 0.2);  // away from the identity a fresh flow starts as
  return model;
}

Case time_single(models::Phase phase, const Options& o) {
  models::LatfModel model = fresh_model(0, o);
  autodiff::Adam spib_adam(model.spib->parameters()), flow_adam(model.flow->parameters());
  const bool joint = phase == models::Phase::Joint;
  BatchTensors b = make_batch(0, o);
  autodiff::Tape tape;
  tape.set_check_finite(false);
  std::uint64_t stream = 0;
  const Timing t = time_calls(
      [&] {
        tape.clear();
        model.spib->parameters().zero_grad();
        if (joint) model.flow->parameters().zero_grad();
        fill_normal(b.noise, 0, stream++);
        const models::BatchVars vars{tape.constant(b.inputs), tape.constant(b.targets), tape.constant(b.weights),
                                     tape.constant(b.inverse_temperature), tape.constant(b.noise)};
        const models::LossVars loss = models::latf_loss(tape, *model.spib, *model.flow, phase, vars, 1e-4, 3.0);
        tape.backward(loss.total);
        spib_adam.step(1e-4f);  // small steps: the weights stay in range over thousands of calls
        if (joint) flow_adam.step(1e-4f);
      },
      o.device, o.budget);
  return Case{models::phase_name(phase), "single", 1, t.seconds_per_call, t.calls};
}

Case time_stacked(models::Phase phase, int count, bool graphs, const Options& o) {
  std::vector<models::LatfModel> singles;
  std::vector<const models::SpibModel*> spibs;
  std::vector<const models::RealNvp*> flows;
  for (int m = 0; m < count; ++m) singles.push_back(fresh_model(m, o));
  for (const auto& s : singles) {
    spibs.push_back(s.spib.get());
    flows.push_back(s.flow.get());
  }
  models::SpibModel spib = models::SpibModel::stack(spibs);
  models::RealNvp flow = models::RealNvp::stack(flows);
  singles.clear();
  autodiff::ModelAdam spib_adam(spib.parameters(), count), flow_adam(flow.parameters(), count);
  spib_adam.set_learning_rates(std::vector<float>(count, 1e-4f));
  flow_adam.set_learning_rates(std::vector<float>(count, 1e-4f));
  const Tensor betas = Tensor::full({count}, 1e-4, o.device), taus = Tensor::full({count}, 3.0, o.device);
  const bool joint = phase == models::Phase::Joint;
  BatchTensors b = make_batch(count, o);
  autodiff::Tape tape;
  tape.set_check_finite(false);
  // Noise as the trainer draws it: one seed and stream per model, the streams advanced on the device.
  std::vector<std::int64_t> seeds(count);
  for (int m = 0; m < count; ++m) seeds[m] = m;
  const kernels::Indices seed_list = kernels::Indices::from_vector(seeds, o.device);
  const kernels::Indices streams = kernels::Indices::from_vector(std::vector<std::int64_t>(count, 0), o.device);
  const auto step = [&] {
    tape.clear();
    spib.parameters().zero_grad();
    if (joint) flow.parameters().zero_grad();
    fill_normal_stacked(b.noise, seed_list, streams);
    advance_streams(streams);
    const models::BatchVars vars{tape.constant(b.inputs), tape.constant(b.targets), tape.constant(b.weights),
                                 tape.constant(b.inverse_temperature), tape.constant(b.noise)};
    const models::LossVars loss = models::stacked_latf_loss(tape, spib, flow, phase, vars, betas, taus);
    tape.backward(loss.total);
    spib_adam.step();
    if (joint) flow_adam.step();
  };
  StepGraphs recorded(o.device);
  const Timing t = time_calls([&] { graphs ? recorded.run(0, step) : step(); }, o.device, o.budget);
  return Case{models::phase_name(phase), graphs ? "stacked_graph" : "stacked", count, t.seconds_per_call, t.calls};
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  require_usable(o.device);
  std::vector<Case> cases;
  for (const std::string& name : o.phases) {
    const models::Phase phase = name == "spib" ? models::Phase::Spib : models::Phase::Joint;
    cases.push_back(time_single(phase, o));
    std::cerr << name << " single: " << cases.back().seconds_per_step * 1e3 << " ms/step\n";
    for (int m : o.models)
      for (bool graphs : {false, true}) {
        if (graphs && !(o.graphs && o.device.is_cuda())) continue;
        cases.push_back(time_stacked(phase, m, graphs, o));
        std::cerr << name << " " << cases.back().path << " M=" << m << ": " << cases.back().seconds_per_step * 1e3
                  << " ms/step\n";
      }
  }
  std::ostringstream out;
  out << "{\n  \"implementation\": \"latf-engine\",\n  \"benchmark\": \"stacked_training_step\",\n  \"device\": \""
      << o.device.str() << "\",\n  \"machine\": " << machine_json() << ",\n  \"command\": " << json_string(o.command)
      << ",\n  \"config\": {\"batch\": " << o.batch << ", \"states\": " << o.states
      << ", \"encoder\": \"linear\", \"layers\": 10, \"hidden\": 16, \"budget_seconds\": " << o.budget
      << "},\n  \"note\": \"model_steps_per_second = models / seconds_per_step; gain_over_single = that over the "
         "single-model path's steps per second, same phase, same run\",\n  \"cases\": [\n";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    double single = 0;
    for (const Case& s : cases)
      if (s.phase == c.phase && s.path == "single") single = 1.0 / s.seconds_per_step;
    const double throughput = c.models / c.seconds_per_step;
    out << "    {\"phase\": \"" << c.phase << "\", \"path\": \"" << c.path << "\", \"models\": " << c.models
        << ", \"seconds_per_step\": " << c.seconds_per_step << ", \"timed_steps\": " << c.steps
        << ", \"model_steps_per_second\": " << throughput << ", \"gain_over_single\": " << throughput / single << "}"
        << (i + 1 < cases.size() ? ",\n" : "\n");
  }
  out << "  ]\n}\n";
  write_json_file(o.json_path, out.str());
  std::cout << out.str();
  return 0;
}

}  // namespace
}  // namespace latf::bench

int main(int argc, char** argv) { return latf::bench::guarded_main("latf_stacked_bench", latf::bench::run, argc, argv); }
