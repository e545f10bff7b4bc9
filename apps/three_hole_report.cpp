#include "apps/three_hole_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/error.hpp"
#include "models/inference.hpp"
#include "systems/three_hole_reference.hpp"

namespace latf::apps {

namespace {

constexpr std::int64_t kCellsPerBatch = 1 << 17;  // bounds the [batch, K] probabilities of encode_frames
constexpr int kBasins = systems::kThreeHoleBasins;

// Centre of cell (ix, iy), written as systems/three_hole_reference.cpp writes it (x symmetric about 0).
double cell_x(const systems::ReferenceGrid& g, std::int64_t ix) {
  return (static_cast<double>(ix) + 0.5 - 0.5 * static_cast<double>(g.nx)) * g.spacing;
}
double cell_y(const systems::ReferenceGrid& g, std::int64_t iy) {
  return g.y_min + (static_cast<double>(iy) + 0.5) * g.spacing;
}

std::vector<double> normalized(std::vector<double> v) {
  double total = 0;
  for (double x : v) total += x;
  LATF_REQUIRE(total > 0, "three-hole report: no Boltzmann mass on the reference grid");
  for (double& x : v) x /= total;
  return v;
}

}  // namespace

GridStates::GridStates(const PointClassifier& classify, int states) : states_(states) {
  LATF_REQUIRE(states >= 1, "GridStates: states: expected ≥ 1, got ", states);
  const systems::ReferenceGrid& g = systems::reference_grid();
  const std::int64_t cells = g.nx * g.ny;
  state_.resize(static_cast<std::size_t>(cells));
  basin_.resize(static_cast<std::size_t>(cells));
  energy_.resize(static_cast<std::size_t>(cells));
  double energy_min = std::numeric_limits<double>::infinity();
  for (std::int64_t start = 0; start < cells; start += kCellsPerBatch) {
    const std::int64_t count = std::min(kCellsPerBatch, cells - start);
    Tensor points = Tensor::empty({count, 2});
    float* p = points.data<float>();
    for (std::int64_t i = 0; i < count; ++i) {
      const std::int64_t cell = start + i, ix = cell % g.nx, iy = cell / g.nx;
      const double x = cell_x(g, ix), y = cell_y(g, iy);
      p[2 * i] = static_cast<float>(x);
      p[2 * i + 1] = static_cast<float>(y);
      basin_[cell] = static_cast<std::int8_t>(systems::grid_basin_of(x, y));
      energy_[cell] = systems::three_hole_potential(x, y);
      energy_min = std::min(energy_min, energy_[cell]);
    }
    const std::vector<std::int64_t> labels = classify(points);
    LATF_REQUIRE(static_cast<std::int64_t>(labels.size()) == count, "GridStates: classifier returned ", labels.size(),
                 " labels for ", count, " points");
    for (std::int64_t i = 0; i < count; ++i) {
      LATF_REQUIRE(labels[i] >= 0 && labels[i] < states, "GridStates: label ", labels[i], " outside [0, ", states, ")");
      state_[start + i] = static_cast<std::int32_t>(labels[i]);
    }
  }
  for (double& e : energy_) e -= energy_min;  // weights ≤ 1: no overflow at any T
}

GridStates GridStates::of_model(const models::LatfModel& model) {
  LATF_REQUIRE(model.spib->shape().inputs == 2, "three-hole report: model inputs: expected 2 descriptors (x, y), got ",
               model.spib->shape().inputs);
  return GridStates([&](const Tensor& points) { return models::encode_frames(model, points).labels; },
                    model.spib->states());
}

std::vector<double> GridStates::populations(double temperature) const {
  LATF_REQUIRE(std::isfinite(temperature) && temperature > 0, "temperature: expected > 0, got ", temperature);
  std::vector<double> mass(states_, 0.0);
  const double beta = 1.0 / temperature;
  for (std::size_t i = 0; i < state_.size(); ++i) mass[state_[i]] += std::exp(-energy_[i] * beta);
  return normalized(std::move(mass));
}

std::vector<std::array<double, kBasins>> GridStates::state_basin_mass(double temperature) const {
  LATF_REQUIRE(std::isfinite(temperature) && temperature > 0, "temperature: expected > 0, got ", temperature);
  std::vector<std::array<double, kBasins>> mass(states_, std::array<double, kBasins>{});
  const double beta = 1.0 / temperature;
  double total = 0;
  for (std::size_t i = 0; i < state_.size(); ++i) {
    const double w = std::exp(-energy_[i] * beta);
    mass[state_[i]][basin_[i]] += w;
    total += w;
  }
  for (auto& row : mass)
    for (double& m : row) m /= total;
  return mass;
}

std::vector<int> map_states_to_basins(const GridStates& grid, const std::vector<double>& temperatures,
                                      const std::vector<std::array<double, 2>>& fallback_point) {
  LATF_REQUIRE(!temperatures.empty(), "map_states_to_basins: temperatures: expected at least one");
  LATF_REQUIRE(fallback_point.empty() || static_cast<int>(fallback_point.size()) == grid.states(),
               "map_states_to_basins: fallback points: expected ", grid.states(), ", got ", fallback_point.size());
  std::vector<std::array<double, kBasins>> votes(grid.states(), std::array<double, kBasins>{});
  for (double t : temperatures) {
    const auto mass = grid.state_basin_mass(t);
    for (int k = 0; k < grid.states(); ++k)
      for (int b = 0; b < kBasins; ++b) votes[k][b] += mass[k][b];
  }
  std::vector<int> basin(grid.states(), 0);
  for (int k = 0; k < grid.states(); ++k) {
    const auto& v = votes[k];
    if (v[0] + v[1] + v[2] > 0 || fallback_point.empty())
      basin[k] = static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
    else
      basin[k] = systems::grid_basin_of(fallback_point[k][0], fallback_point[k][1]);
  }
  return basin;
}

double PopulationComparison::max_abs_error() const {
  double worst = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) worst = std::max(worst, std::abs(predicted[i] - exact[i]));
  return worst;
}

namespace {

// VampPrior pseudo-inputs in raw (x, y) units: where a state without grid mass "lives".
std::vector<std::array<double, 2>> pseudo_input_points(const models::LatfModel& model) {
  const std::vector<float> p = model.spib->parameters().value("pseudo_inputs").to(Device::cpu()).to_vector();
  const auto& norm = model.normalization;
  std::vector<std::array<double, 2>> points(model.spib->states());
  for (std::size_t k = 0; k < points.size(); ++k)
    for (int j = 0; j < 2; ++j) points[k][j] = p[2 * k + j] * norm.scale[j] + norm.mean[j];
  return points;
}

std::vector<double> basin_vector(const systems::BasinPopulations& p) { return {p.left, p.right, p.top}; }

std::vector<double> curve_temperatures(const ReportOptions& o) {
  std::vector<double> ts;
  if (o.curve_points < 2 || o.temperatures.empty()) return ts;
  const auto [lo, hi] = std::minmax_element(o.temperatures.begin(), o.temperatures.end());
  const double low = 0.8 * *lo, high = 1.1 * *hi;  // log-spaced, a little beyond the table's range
  for (int i = 0; i < o.curve_points; ++i)
    ts.push_back(low * std::pow(high / low, static_cast<double>(i) / (o.curve_points - 1)));
  return ts;
}

bool contains(const std::vector<double>& list, double t) {
  return std::any_of(list.begin(), list.end(), [&](double x) { return std::abs(x - t) < 1e-9 * std::max(1.0, t); });
}

}  // namespace

ThreeHoleReport make_three_hole_report(const models::LatfModel& model, const ReportOptions& options) {
  LATF_REQUIRE(!options.temperatures.empty(), "three-hole report: temperatures: expected at least one");
  ThreeHoleReport report;
  report.states = model.spib->states();
  const GridStates grid = GridStates::of_model(model);
  const std::vector<double> vote_temperatures =
      options.training_temperatures.empty() ? std::vector<double>{model.reference_temperature}
                                            : options.training_temperatures;
  report.basin_of_state = map_states_to_basins(grid, vote_temperatures, pseudo_input_points(model));

  Tensor minima = Tensor::empty({kBasins, 2});
  for (int b = 0; b < kBasins; ++b) {
    minima.data<float>()[2 * b] = static_cast<float>(systems::three_hole_minima()[b].x);
    minima.data<float>()[2 * b + 1] = static_cast<float>(systems::three_hole_minima()[b].y);
  }
  const auto at_minimum = models::encode_frames(model, minima).labels;
  std::copy(at_minimum.begin(), at_minimum.end(), report.state_at_minimum.begin());

  for (std::size_t i = 0; i < options.temperatures.size(); ++i) {
    TemperatureResult r;
    r.temperature = options.temperatures[i];
    r.training = contains(options.training_temperatures, r.temperature);
    const auto estimate =
        models::generated_populations(model, r.temperature, options.samples_per_block, options.blocks, options.seed + i);
    r.states = {estimate.mean, estimate.error, grid.populations(r.temperature)};
    // Summing the states' variances ignores their covariance within a block; for multinomial
    // counts that covariance is negative, so the basin error bar is conservative.
    r.basins.predicted.assign(kBasins, 0.0);
    r.basins.error.assign(kBasins, 0.0);
    for (int k = 0; k < report.states; ++k) {
      r.basins.predicted[report.basin_of_state[k]] += estimate.mean[k];
      r.basins.error[report.basin_of_state[k]] += estimate.error[k] * estimate.error[k];
    }
    for (double& e : r.basins.error) e = std::sqrt(e);
    r.basins.exact = basin_vector(systems::exact_basin_populations(r.temperature));
    report.results.push_back(std::move(r));
  }
  report.curve_temperatures = curve_temperatures(options);
  for (double t : report.curve_temperatures) {
    report.curve_basins.push_back(basin_vector(systems::exact_basin_populations(t)));
    report.curve_states.push_back(grid.populations(t));
  }
  return report;
}

namespace {

void append(std::string& out, const char* format, auto... args) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, format, args...);
  out += buffer;
}

void append_table(std::string& out, const ThreeHoleReport& report, bool basins) {
  const int columns = basins ? kBasins : report.states;
  append(out, "%6s ", "T");
  for (int c = 0; c < columns; ++c) {
    const std::string head =
        basins ? kBasinNames[c] : "state " + std::to_string(c) + " (" + kBasinNames[report.basin_of_state[c]] + ")";
    append(out, " %-31s", head.c_str());
  }
  out += " max |err|\n";
  for (const auto& r : report.results) {
    const PopulationComparison& p = basins ? r.basins : r.states;
    append(out, "%6.2f ", r.temperature);
    for (int c = 0; c < columns; ++c)
      append(out, " %.3f ± %.3f / %.3f (%+.3f) ", p.predicted[c], p.error[c], p.exact[c], p.predicted[c] - p.exact[c]);
    append(out, " %.3f%s\n", p.max_abs_error(), r.training ? "  (training T)" : "");
  }
}

nlohmann::ordered_json entry(const PopulationComparison& p, int i) {
  return {{"predicted", p.predicted[i]}, {"error", p.error[i]}, {"exact", p.exact[i]}};
}

}  // namespace

std::string format_report(const ThreeHoleReport& report) {
  std::string out =
      "Each entry: predicted ± standard error / exact (predicted − exact).\n\n"
      "Basin populations (generated states summed per basin vs exact steepest-descent basins):\n";
  append_table(out, report, true);
  out += "\nLearned-state populations (generated vs exact Boltzmann mass of the region each state decodes):\n";
  append_table(out, report, false);
  return out;
}

nlohmann::ordered_json report_json(const ThreeHoleReport& report) {
  nlohmann::ordered_json j;
  j["states"] = report.states;
  nlohmann::ordered_json mapping = nlohmann::ordered_json::array();
  for (int b : report.basin_of_state) mapping.push_back(kBasinNames[b]);
  j["basin_of_state"] = mapping;
  for (int b = 0; b < kBasins; ++b) j["state_at_minimum"][kBasinNames[b]] = report.state_at_minimum[b];
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const auto& r : report.results) {
    nlohmann::ordered_json row = {{"temperature", r.temperature}, {"training", r.training}};
    for (int b = 0; b < kBasins; ++b) row["basins"][kBasinNames[b]] = entry(r.basins, b);
    row["basins"]["max_abs_error"] = r.basins.max_abs_error();
    nlohmann::ordered_json states = nlohmann::ordered_json::array();
    for (int k = 0; k < report.states; ++k) {
      nlohmann::ordered_json s = entry(r.states, k);
      s["basin"] = kBasinNames[report.basin_of_state[k]];
      states.push_back(s);
    }
    row["states"] = states;
    row["states_max_abs_error"] = r.states.max_abs_error();
    results.push_back(row);
  }
  j["results"] = results;
  nlohmann::ordered_json curve = {{"temperatures", report.curve_temperatures}};
  for (int b = 0; b < kBasins; ++b) {
    std::vector<double> column;
    for (const auto& row : report.curve_basins) column.push_back(row[b]);
    curve["basins"][kBasinNames[b]] = column;
  }
  curve["states"] = report.curve_states;  // [temperature][state]
  j["exact_curve"] = curve;
  return j;
}

}  // namespace latf::apps
