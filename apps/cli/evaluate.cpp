// `latf evaluate`: scores of a trained model (METHOD.md §8). State populations of generated
// samples at any temperature, and where simulated data exist at a temperature: the data's own
// populations, the latent KL of generated vs simulated, and the GMRQ of the learned states;
// free-energy profiles along each latent coordinate. A table on screen, evaluation.json and
// the profiles as .npy on disk (apps/cli/README.md).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <set>

#include <CLI/CLI.hpp>

#include "apps/cli/commands.hpp"
#include "apps/cli/common.hpp"
#include "apps/cli/inputs.hpp"
#include "apps/cli/validators.hpp"
#include "apps/three_hole_report.hpp"
#include "data/npy.hpp"
#include "engine/error.hpp"
#include "models/checkpoint.hpp"
#include "models/evaluation.hpp"
#include "models/inference.hpp"

namespace latf::cli {

namespace {

namespace fs = std::filesystem;

struct EvaluateOptions {
  std::string model, temperatures, data_temperatures, out, device = "auto";
  std::vector<std::string> data;
  std::int64_t samples = 10000;
  int blocks = 5, lag = 0, bins = 50, gmrq_rank = 0;
  double gmrq_validation_fraction = 0.2;
  std::uint64_t seed = 0;
  bool overwrite = false, quiet = false, three_hole = false;
};

// The trajectories at one temperature and their encodings (latent means, labels).
struct DataAtTemperature {
  std::vector<const models::Trajectory*> trajectories;
  std::vector<models::EncodedFrames> encoded;
};

struct TemperatureResult {
  double temperature = 0;
  models::PopulationEstimate generated;
  Tensor generated_latent;  // [samples·blocks, d]: the KL and profile samples
  bool has_data = false;
  std::vector<double> data_population, data_error;
  std::int64_t data_frames = 0;
  double kl = std::numeric_limits<double>::quiet_NaN();
  Tensor data_latent;  // [frames, d]
};

nlohmann::ordered_json number(double v) { return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(); }
nlohmann::ordered_json numbers(const std::vector<double>& values) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (double v : values) a.push_back(number(v));
  return a;
}

std::uint64_t population_seed(std::uint64_t seed) { return seed * 1000003; }

bool same_temperature(double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b)); }

// Rows [N_i, C] of several CPU tensors, stacked into one [ΣN_i, C].
Tensor stack_rows(const std::vector<Tensor>& parts) {
  std::int64_t rows = 0;
  for (const Tensor& p : parts) rows += p.dim(0);
  const std::int64_t columns = parts.front().dim(1);
  Tensor all = Tensor::empty({rows, columns});
  std::int64_t start = 0;
  for (const Tensor& p : parts) {
    all.view(start * columns, p.shape()).copy_from(p);
    start += p.dim(0);
  }
  return all;
}

// Weighted state populations of the data at one temperature; error bars from `blocks` blocks,
// block b holding the b-th contiguous part of every trajectory (contiguous parts, because
// neighbouring frames are correlated and would make independent-sample errors too small).
void data_populations(const DataAtTemperature& data, int states, int blocks, TemperatureResult& result) {
  std::vector<double> total(states, 0.0);
  std::vector<std::vector<double>> per_block(blocks, std::vector<double>(states, 0.0));
  for (std::size_t k = 0; k < data.trajectories.size(); ++k) {
    const models::Trajectory& t = *data.trajectories[k];
    const std::vector<std::int64_t>& labels = data.encoded[k].labels;
    const auto n = static_cast<std::int64_t>(labels.size());
    for (std::int64_t i = 0; i < n; ++i) {
      const double w = t.weights.empty() ? 1.0 : t.weights[i];
      total[labels[i]] += w;
      per_block[i * blocks / n][labels[i]] += w;
    }
    result.data_frames += n;
  }
  const auto normalise = [](std::vector<double>& p) {
    double sum = 0;
    for (double v : p) sum += v;
    if (sum > 0)
      for (double& v : p) v /= sum;
    return sum > 0;
  };
  LATF_REQUIRE(normalise(total), "data at T = ", result.temperature, ": every frame has weight 0");
  std::vector<std::vector<double>> usable;
  for (auto& p : per_block)
    if (normalise(p)) usable.push_back(p);
  result.data_population = total;
  result.data_error.assign(states, std::numeric_limits<double>::quiet_NaN());
  if (usable.size() < 2) return;
  const double nb = static_cast<double>(usable.size());
  for (int j = 0; j < states; ++j) {
    double mean = 0, var = 0;
    for (const auto& p : usable) mean += p[j] / nb;
    for (const auto& p : usable) var += (p[j] - mean) * (p[j] - mean);
    result.data_error[j] = std::sqrt(var / (nb - 1) / nb);
  }
}

// Number of states visited by the pairs of state_gmrq's training part: the contract of
// models/evaluation.hpp (first ⌊(1 − f)·n⌋ frames of each trajectory) and analysis/gmrq.hpp
// (a frame counts when it is an end of a lagged pair), which caps the rank.
int states_in_gmrq_training(const models::Dataset& dataset, double validation_fraction) {
  const auto& offsets = dataset.trajectory_offsets();
  const auto& labels = dataset.frame_labels();
  const std::int64_t lag = dataset.lag();
  std::set<std::int64_t> seen;
  for (std::size_t k = 0; k + 1 < offsets.size(); ++k) {
    const std::int64_t begin = offsets[k];
    const auto length = static_cast<std::int64_t>(std::floor((1 - validation_fraction) * (offsets[k + 1] - begin)));
    if (length <= lag) continue;
    for (std::int64_t i = 0; i < length; ++i)
      if (i + lag < length || i >= lag) seen.insert(labels[begin + i]);
  }
  return static_cast<int>(seen.size());
}

// GMRQ of the Markov model on the model's own state assignment of the data (the states are the
// model's labels, argmax q(k | μ(x)), not re-clustered). Reasons it cannot be computed (one
// state only, trajectories too short for the lag) are reported, not fatal: the other scores stand.
nlohmann::ordered_json gmrq_json(const std::vector<models::Trajectory>& trajectories,
                                 const std::vector<models::EncodedFrames>& encoded, const models::LatfModel& model,
                                 const EvaluateOptions& o, int lag) {
  nlohmann::ordered_json j;
  j["lag"] = lag;
  j["validation_fraction"] = o.gmrq_validation_fraction;
  std::vector<models::Trajectory> labelled;
  std::set<std::int64_t> states;
  for (std::size_t k = 0; k < trajectories.size(); ++k) {
    models::Trajectory t;
    t.frames = trajectories[k].frames;
    t.temperature = trajectories[k].temperature;
    t.weights = trajectories[k].weights;
    t.labels = encoded[k].labels;
    t.name = trajectories[k].name;
    states.insert(t.labels.begin(), t.labels.end());
    labelled.push_back(std::move(t));
  }
  if (states.size() < 2) {
    j["error"] = "the data visit only one state of the model";
    return j;
  }
  try {
    models::DatasetOptions options;
    options.lag = lag;
    options.reference_temperature = model.reference_temperature;
    options.seed = o.seed;
    const models::Dataset dataset = models::Dataset::build(std::move(labelled), options);
    const int available = states_in_gmrq_training(dataset, o.gmrq_validation_fraction);
    const int rank = o.gmrq_rank > 0 ? std::min(o.gmrq_rank, available) : available;
    const analysis::GmrqResult g = models::state_gmrq(dataset, o.gmrq_validation_fraction, rank);
    j["rank"] = rank;
    j["train_score"] = number(g.train_score);
    j["validation_score"] = number(g.validation_score);
    j["eigenvalues"] = numbers(g.eigenvalues);
  } catch (const InvalidArgument& e) {
    j["error"] = e.what();
  }
  return j;
}

// Profiles of one latent sample set, as [d, bins] free energies and errors (kT; +inf where a
// bin is empty, NaN errors where blocks are too few); returns the free-energy file's name.
std::string write_profiles(const Tensor& latent, int bins, double low, double high, const std::string& stem,
                           StagedDirectory& out) {
  const std::vector<analysis::Profile> profiles = models::latent_free_energy_profiles(latent, bins, low, high);
  std::vector<double> f, e;
  for (const analysis::Profile& p : profiles) {
    f.insert(f.end(), p.free_energy.begin(), p.free_energy.end());
    e.insert(e.end(), p.error.begin(), p.error.end());
  }
  const std::vector<std::int64_t> shape = {static_cast<std::int64_t>(profiles.size()), bins};
  data::write_npy(out.file(stem + ".npy"), f, shape);
  data::write_npy(out.file(stem + "_error.npy"), e, shape);
  return stem + ".npy";
}

void print_table(const std::vector<TemperatureResult>& results, int states) {
  std::printf("%-10s", "T");
  for (int k = 0; k < states; ++k) std::printf("  %-17s", ("state " + std::to_string(k)).c_str());
  std::printf("  %s\n", "KL(data|gen)");
  for (const TemperatureResult& r : results) {
    std::printf("%-10g", r.temperature);
    for (int k = 0; k < states; ++k) std::printf("  %7.4f ± %-7.4f", r.generated.mean[k], r.generated.error[k]);
    if (r.has_data && std::isfinite(r.kl))
      std::printf("  %.4g", r.kl);
    else
      std::printf("  %s", r.has_data ? "n/a (d != 2)" : "-");
    std::printf("\n");
    if (!r.has_data) continue;
    std::printf("%-10s", "  data");
    for (int k = 0; k < states; ++k) std::printf("  %7.4f ± %-7.4f", r.data_population[k], r.data_error[k]);
    std::printf("  (%lld frames)\n", static_cast<long long>(r.data_frames));
  }
}

void run_evaluate(const EvaluateOptions& o) {
  std::vector<double> temperatures = parse_temperatures(o.temperatures, "--temperatures");
  std::vector<double> data_temperatures;
  if (!o.data_temperatures.empty()) data_temperatures = parse_temperatures(o.data_temperatures, "--data-temperatures");
  std::size_t plain = 0;
  for (const std::string& d : o.data) plain += fs::path(d).extension() != ".json";
  if (plain > 0 && data_temperatures.size() != 1 && data_temperatures.size() != plain)
    throw UsageError("--data-temperatures: " + std::to_string(plain) + " .npy file(s) given to --data need one temperature or " +
                     std::to_string(plain) + ", got " + std::to_string(data_temperatures.size()));
  if (plain == 0 && !data_temperatures.empty())
    throw UsageError("--data-temperatures: only .npy files given to --data take temperatures (manifests carry their own)");
  const Device device = device_option(o.device);
  require_usable(device);
  StagedDirectory out(o.out, o.overwrite);

  const models::Checkpoint checkpoint = models::load_checkpoint(o.model, device);
  const models::LatfModel& model = checkpoint.model;
  const int states = model.spib->states(), inputs = model.spib->shape().inputs, d = model.latent_dim();
  const int lag = o.lag > 0 ? o.lag : model.config.lag;
  if (o.three_hole && inputs != 2)
    throw UsageError("--three-hole: the model " + o.model + " has " + std::to_string(inputs) +
                     " descriptors; a three-hole model has 2 (x, y)");

  const std::vector<models::Trajectory> trajectories =
      o.data.empty() ? std::vector<models::Trajectory>{} : load_trajectories(o.data, data_temperatures);
  std::vector<models::EncodedFrames> encoded;
  for (const models::Trajectory& t : trajectories) {
    if (t.frames.dim(1) != inputs)
      throw std::runtime_error(t.name + ": frames have " + std::to_string(t.frames.dim(1)) + " descriptors, the model " +
                               o.model + " expects " + std::to_string(inputs));
    encoded.push_back(models::encode_frames(model, t.frames));
  }
  // Every temperature with data is evaluated, listed or not.
  for (const models::Trajectory& t : trajectories)
    if (std::none_of(temperatures.begin(), temperatures.end(), [&](double T) { return same_temperature(T, t.temperature); }))
      temperatures.push_back(t.temperature);
  std::sort(temperatures.begin(), temperatures.end());

  std::vector<TemperatureResult> results;
  const std::int64_t generated_samples = o.samples * o.blocks;
  for (std::size_t i = 0; i < temperatures.size(); ++i) {
    TemperatureResult r;
    r.temperature = temperatures[i];
    // The populations' seed is the one apps::make_three_hole_report uses for temperature i, so
    // that --three-hole's predictions are these very numbers; the KL and profile samples get a
    // seed far from those of the population blocks (seed + 7919·b).
    const std::uint64_t seed = population_seed(o.seed) + i, sample_seed = seed ^ (0x5DEECE66DULL << 24);
    r.generated = models::generated_populations(model, r.temperature, o.samples, o.blocks, seed);
    r.generated_latent = models::sample_latent(model, r.temperature, generated_samples, sample_seed);
    DataAtTemperature data;
    for (std::size_t k = 0; k < trajectories.size(); ++k)
      if (same_temperature(trajectories[k].temperature, r.temperature)) {
        data.trajectories.push_back(&trajectories[k]);
        data.encoded.push_back(encoded[k]);
      }
    if (!data.trajectories.empty()) {
      r.has_data = true;
      data_populations(data, states, o.blocks, r);
      std::vector<Tensor> raw, latent;
      for (std::size_t k = 0; k < data.trajectories.size(); ++k) {
        raw.push_back(data.trajectories[k]->frames);
        latent.push_back(data.encoded[k].latent_mean);
      }
      r.data_latent = stack_rows(latent);
      // Same seed as generated_latent: the KL compares the very samples whose profiles are written.
      if (d == 2)
        r.kl = models::generated_latent_kl(model, stack_rows(raw), r.temperature, generated_samples, sample_seed);
    }
    results.push_back(std::move(r));
  }

  // One range for every profile, so that data and generated profiles share their bins.
  double low = INFINITY, high = -INFINITY;
  for (const TemperatureResult& r : results)
    for (const Tensor* latent : {&r.generated_latent, &r.data_latent})
      if (latent->defined())
        for (float v : latent->to_vector()) low = std::min<double>(low, v), high = std::max<double>(high, v);
  if (!(high > low)) high = low + 1;
  const double pad = 1e-6 * (high - low);
  low -= pad, high += pad;
  std::vector<double> centers(o.bins);
  for (int b = 0; b < o.bins; ++b) centers[b] = low + (b + 0.5) * (high - low) / o.bins;
  data::write_npy(out.file("profile_centers.npy"), centers, {o.bins});

  nlohmann::ordered_json report;
  report["model"] = o.model;
  report["states"] = states;
  report["latent_dim"] = d;
  report["reference_temperature"] = model.reference_temperature;
  report["samples_per_block"] = o.samples;
  report["blocks"] = o.blocks;
  report["seed"] = o.seed;
  report["profiles"] = {{"bins", o.bins}, {"low", low}, {"high", high}, {"centers", "profile_centers.npy"},
                        {"units", "kT"}};
  nlohmann::ordered_json per_temperature = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < results.size(); ++i) {
    const TemperatureResult& r = results[i];
    nlohmann::ordered_json t;
    t["temperature"] = r.temperature;
    t["generated"] = {
        {"populations", numbers(r.generated.mean)},
        {"error", numbers(r.generated.error)},
        {"profile", write_profiles(r.generated_latent, o.bins, low, high, "profile_generated_" + std::to_string(i), out)}};
    if (r.has_data) {
      nlohmann::ordered_json data_json = {{"frames", r.data_frames},
                                          {"populations", numbers(r.data_population)},
                                          {"error", numbers(r.data_error)},
                                          {"latent_kl", number(r.kl)}};
      // The profile's block error bars need at least 5 frames (latent_free_energy_profiles).
      if (r.data_frames >= 5)
        data_json["profile"] = write_profiles(r.data_latent, o.bins, low, high, "profile_data_" + std::to_string(i), out);
      t["data"] = data_json;
    }
    per_temperature.push_back(t);
  }
  report["temperatures"] = per_temperature;
  if (!trajectories.empty()) report["gmrq"] = gmrq_json(trajectories, encoded, model, o, lag);
  std::string three_hole_table;
  if (o.three_hole) {
    apps::ReportOptions options;
    options.temperatures = temperatures;
    // The states are mapped to basins by their exact mass at these temperatures; the data's are
    // the training temperatures when the training data are given (else the reference temperature).
    options.training_temperatures.clear();
    for (const models::Trajectory& t : trajectories)
      if (std::none_of(options.training_temperatures.begin(), options.training_temperatures.end(),
                       [&](double T) { return same_temperature(T, t.temperature); }))
        options.training_temperatures.push_back(t.temperature);
    options.samples_per_block = o.samples;
    options.blocks = o.blocks;
    options.seed = population_seed(o.seed);
    const apps::ThreeHoleReport three_hole = apps::make_three_hole_report(model, options);
    report["three_hole"] = apps::report_json(three_hole);
    three_hole_table = apps::format_report(three_hole);
  }
  write_json(out.file("evaluation.json"), report);
  out.commit();

  if (o.quiet) return;
  print_table(results, states);
  if (report.contains("gmrq")) {
    const auto& g = report["gmrq"];
    if (g.contains("error"))
      std::printf("GMRQ (lag %d): not computed: %s\n", lag, g["error"].get<std::string>().c_str());
    else
      std::printf("GMRQ (lag %d, rank %d): train %.4f, validation %s\n", lag, g["rank"].get<int>(),
                  g["train_score"].get<double>(), g["validation_score"].dump().c_str());
  }
  if (o.three_hole) std::printf("\n%s\n", three_hole_table.c_str());
  std::printf("wrote evaluation.json and profiles to %s\n", out.final_path().c_str());
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  CLI::App* evaluate = app.add_subcommand("evaluate", "Score a trained model: populations vs T, KL, GMRQ, profiles");
  auto o = std::make_shared<EvaluateOptions>();
  evaluate->add_option("--model", o->model, "Checkpoint (RUN_DIR/model.latf)")->required()->check(CLI::ExistingFile);
  evaluate->add_option("--temperatures", o->temperatures, "Comma-separated temperatures to generate at, e.g. 0.5,0.7,1.0")
      ->required();
  evaluate->add_option("--data", o->data, "Simulated data: manifests (*.json) and/or .npy frames [N, D]");
  evaluate->add_option("--data-temperatures", o->data_temperatures,
                       "Temperatures of the .npy files given to --data (one for all, or one per file)");
  evaluate->add_option("--samples", o->samples, "Generated samples per block")->capture_default_str()->check(positive());
  evaluate->add_option("--blocks", o->blocks, "Independent blocks for the error bars, ≥ 2")
      ->capture_default_str()->check(number_above(2, false));
  evaluate->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  evaluate->add_option("--lag", o->lag, "GMRQ lag in frames (default: the model's lag)")->check(positive());
  evaluate->add_option("--gmrq-rank", o->gmrq_rank, "Leading eigenvalues in the GMRQ (default: every state populated)")
      ->check(positive());
  evaluate->add_option("--bins", o->bins, "Bins of the free-energy profiles")->capture_default_str()->check(positive());
  evaluate->add_option("--out", o->out, "Output directory (created; must not exist)")->required();
  evaluate->add_option("--device", o->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  evaluate->add_flag("--overwrite", o->overwrite, "Replace an existing output directory");
  evaluate->add_flag("--three-hole", o->three_hole,
                     "Model of the built-in three-hole system: add exact basin and state populations");
  evaluate->add_flag("--quiet", o->quiet, "No table on screen");
  evaluate->callback([o] { run_evaluate(*o); });
}

}  // namespace latf::cli
