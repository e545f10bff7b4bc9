#pragma once
// How well a LaTF model trained on the three-hole potential predicts populations at any
// temperature (METHOD.md §9), in two comparisons:
//  - per basin: generated populations summed over the learned states mapped to each basin,
//    against the exact steepest-descent basin populations (systems::exact_basin_populations);
//  - per learned state: generated populations against the exact Boltzmann mass of the region
//    the model itself calls state k (reference-grid cells whose centre decodes to k). This is
//    the fair test of the generative part: a learned state's boundary is not the basin's, so
//    the basin comparison mixes the encoder's boundary error into the flow's error.
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tensor.hpp"
#include "models/latf_model.hpp"
#include "systems/three_hole_math.hpp"

namespace latf::apps {

// Labels of points [n, 2] (float32, CPU, raw x, y): one state index in [0, states) per point.
using PointClassifier = std::function<std::vector<std::int64_t>(const Tensor& points)>;

// The state of every cell of systems::reference_grid(), by `classify` applied to the cell
// centres (row-major, iy·nx + ix) in batches, with the Boltzmann weights of the cells. Built
// once per model (a few seconds for the 2.5 M cells), then cheap at any temperature.
class GridStates {
 public:
  GridStates(const PointClassifier& classify, int states);
  // The model's decoded state of each encoded cell centre (models::encode_frames' labels).
  static GridStates of_model(const models::LatfModel& model);

  int states() const { return states_; }
  // Exact populations of the states: p_k(T) = Σ_{cells of k} e^{−V/T} / Σ_{cells} e^{−V/T}.
  std::vector<double> populations(double temperature) const;
  // Exact joint mass P(state k, basin b) at T, [k][b]; sums to 1.
  std::vector<std::array<double, systems::kThreeHoleBasins>> state_basin_mass(double temperature) const;

 private:
  int states_;
  std::vector<std::int32_t> state_;  // per cell
  std::vector<std::int8_t> basin_;   // per cell (systems::grid_basin_of)
  std::vector<double> energy_;       // V − V_min per cell
};

// Learned state → basin: the basin holding most of the state's exact Boltzmann mass, summed over
// `temperatures` (each normalised). This is the noise-free limit of the majority vote over
// trajectory frames at the training temperatures (the frames sample that very distribution),
// and, unlike "the state the decoder gives at each minimum", it maps EVERY state, also when
// K ≠ 3 or when two minima decode to the same state. A state without mass at those
// temperatures takes the basin of `fallback_point` (its VampPrior pseudo-input), if given.
std::vector<int> map_states_to_basins(const GridStates& grid, const std::vector<double>& temperatures,
                                      const std::vector<std::array<double, 2>>& fallback_point = {});

struct ReportOptions {
  std::vector<double> temperatures{0.5, 0.7, 1.0, 1.5, 2.0, 3.0};
  std::vector<double> training_temperatures{0.7, 1.5};  // for the state → basin map; marked in tables
  std::int64_t samples_per_block = 20000;               // generated_populations: blocks × samples each
  int blocks = 10;
  std::uint64_t seed = 1000;                            // temperature i's estimate uses seed + i
  int curve_points = 41;  // exact populations on a dense temperature grid (for plots); 0: none
};

struct PopulationComparison {
  std::vector<double> predicted, error, exact;  // per state or basin; error = standard error
  double max_abs_error() const;
};

struct TemperatureResult {
  double temperature = 0;
  bool training = false;
  PopulationComparison basins, states;
};

struct ThreeHoleReport {
  int states = 0;
  std::vector<int> basin_of_state;
  std::array<std::int64_t, systems::kThreeHoleBasins> state_at_minimum{};  // decoded state of each minimum
  std::vector<TemperatureResult> results;
  // Exact curves: temperatures, and per temperature the basin and learned-state populations.
  std::vector<double> curve_temperatures;
  std::vector<std::vector<double>> curve_basins, curve_states;
};

ThreeHoleReport make_three_hole_report(const models::LatfModel& model, const ReportOptions& options = {});

// Both comparisons as aligned text tables (predicted ± se / exact, and the largest |error|).
std::string format_report(const ThreeHoleReport& report);
nlohmann::ordered_json report_json(const ThreeHoleReport& report);

inline constexpr const char* kBasinNames[systems::kThreeHoleBasins] = {"left", "right", "top"};

}  // namespace latf::apps
