// apps/three_hole_report: exact populations of learned states on the reference grid, the state →
// basin map, and the report of a model built by hand whose three states are (nearly) the basins.
#include <cmath>
#include <numeric>

#include "apps/three_hole_report.hpp"
#include "models/inference.hpp"
#include "systems/three_hole_reference.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using apps::GridStates;

std::vector<std::int64_t> grid_basins(const Tensor& points) {
  const float* p = points.data<float>();
  std::vector<std::int64_t> labels(points.dim(0));
  for (std::int64_t i = 0; i < points.dim(0); ++i) labels[i] = systems::grid_basin_of(p[2 * i], p[2 * i + 1]);
  return labels;
}

// The hand-made classifier of vee_model below, in double: top above the vee 1.5(y − 0.7) > |x|,
// else left or right of x = 0. Off the basin boundaries by < 0.15% of the mass at T = 0.7.
std::int64_t vee_state(double x, double y) {
  if (1.5 * (y - 0.7) > std::abs(x)) return systems::kTopBasin;
  return x < 0 ? systems::kLeftBasin : systems::kRightBasin;
}

// A model whose encoder is the identity on (x, y) and whose ReLU decoder computes vee_state's
// logits exactly: −x (left), x (right), 1.5(y − 0.7) (top), with x = relu(x) − relu(−x).
models::LatfModel vee_model() {
  models::LatfConfig config;
  config.flow.layers = 2;
  config.flow.scale_clamp = 2.0;
  models::Normalization identity{{0.f, 0.f}, {1.f, 1.f}};
  models::LatfModel model = models::LatfModel::create(config, 2, 3, identity, 0.7, Device::cpu());
  auto& p = model.spib->parameters();
  const int w = config.spib.decoder_width;
  p.value("encoder.0.weight").copy_from(Tensor::from_vector(std::vector<float>{1, 0, 0, 1}, {2, 2}));
  p.value("encoder.0.bias").fill(0);
  std::vector<float> w0(w * 2, 0.f), w1(w * w, 0.f), w2(3 * w, 0.f);
  w0[0 * 2 + 0] = 1, w0[1 * 2 + 0] = -1, w0[2 * 2 + 1] = 1, w0[3 * 2 + 1] = -1;  // relu(±x), relu(±y)
  for (int i = 0; i < 4; ++i) w1[i * w + i] = 1;                              // passed through
  w2[0 * w + 0] = -1, w2[0 * w + 1] = 1;                                       // left: −x
  w2[1 * w + 0] = 1, w2[1 * w + 1] = -1;                                       // right: x
  w2[2 * w + 2] = 1.5, w2[2 * w + 3] = -1.5;                                   // top: 1.5 y − 1.05
  p.value("decoder.0.weight").copy_from(Tensor::from_vector(w0, {w, 2}));
  p.value("decoder.1.weight").copy_from(Tensor::from_vector(w1, {w, w}));
  p.value("decoder.2.weight").copy_from(Tensor::from_vector(w2, {3, w}));
  p.value("decoder.0.bias").fill(0);
  p.value("decoder.1.bias").fill(0);
  p.value("decoder.2.bias").copy_from(Tensor::from_vector(std::vector<float>{0, 0, -1.05f}, {3}));
  return model;
}

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

TEST(ThreeHoleReport, StatesThatAreTheBasinsHaveTheExactBasinPopulations) {
  const GridStates grid(grid_basins, systems::kThreeHoleBasins);
  for (double t : {0.3, 0.7, 1.5, 3.0}) {
    SCOPED_TRACE(t);
    const std::vector<double> p = grid.populations(t);
    const systems::BasinPopulations exact = systems::exact_basin_populations(t);
    EXPECT_NEAR(sum(p), 1.0, 1e-12);
    for (int b = 0; b < systems::kThreeHoleBasins; ++b) EXPECT_NEAR(p[b], exact[b], 1e-12) << apps::kBasinNames[b];
    // Joint mass of (state, basin): all on the diagonal.
    const auto joint = grid.state_basin_mass(t);
    for (int k = 0; k < 3; ++k)
      for (int b = 0; b < 3; ++b) EXPECT_NEAR(joint[k][b], k == b ? exact[b] : 0.0, 1e-12);
  }
}

TEST(ThreeHoleReport, EveryStateIsMappedToTheBasinHoldingMostOfItsMass) {
  // Four states: the left basin split at y = 0 into states 0 and 3; state 4 covers no cell.
  const GridStates grid(
      [](const Tensor& points) {
        std::vector<std::int64_t> labels = grid_basins(points);
        for (std::int64_t i = 0; i < points.dim(0); ++i)
          if (labels[i] == systems::kLeftBasin && points.data<float>()[2 * i + 1] > 0) labels[i] = 3;
        return labels;
      },
      5);
  const std::vector<double> p = grid.populations(0.7);
  EXPECT_NEAR(sum(p), 1.0, 1e-12);
  EXPECT_EQ(p[4], 0.0);
  EXPECT_NEAR(p[0] + p[3], systems::exact_basin_populations(0.7).left, 1e-12);
  EXPECT_GT(p[3], 0.1);  // the split is not trivial
  // State 4 has no mass: it takes the basin of its fallback point (here in the top well).
  const std::vector<std::array<double, 2>> fallback = {{0, 0}, {0, 0}, {0, 0}, {0, 0}, {0.0, 1.5}};
  EXPECT_EQ(apps::map_states_to_basins(grid, {0.7, 1.5}, fallback), (std::vector<int>{0, 1, 2, 0, 2}));
  EXPECT_THROW(apps::map_states_to_basins(grid, {0.7}, {{0, 0}}), InvalidArgument);
  EXPECT_THROW(apps::map_states_to_basins(grid, {}), InvalidArgument);
}

TEST(ThreeHoleReport, RejectsLabelsOutsideTheStates) {
  const auto too_large = [](const Tensor& points) { return std::vector<std::int64_t>(points.dim(0), 3); };
  try {
    GridStates grid(too_large, 3);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("label 3 outside [0, 3)"), std::string::npos) << e.what();
  }
}

TEST(ThreeHoleReport, ModelDecodedStatesOfCellCentresMatchTheirDefinition) {
  const models::LatfModel model = vee_model();
  const GridStates from_model = GridStates::of_model(model);
  const GridStates reference(
      [](const Tensor& points) {
        const float* p = points.data<float>();
        std::vector<std::int64_t> labels(points.dim(0));
        for (std::int64_t i = 0; i < points.dim(0); ++i) labels[i] = vee_state(p[2 * i], p[2 * i + 1]);
        return labels;
      },
      3);
  for (double t : {0.5, 0.7, 3.0}) {
    SCOPED_TRACE(t);
    const std::vector<double> p = from_model.populations(t), q = reference.populations(t);
    // float32 network vs double formula: only cells within rounding of the vee may differ.
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(p[k], q[k], 1e-5);
    // ... and these states are the basins up to the vee's misfit of the top basin's border.
    const systems::BasinPopulations exact = systems::exact_basin_populations(t);
    for (int b = 0; b < 3; ++b) EXPECT_NEAR(p[b], exact[b], t <= 0.7 ? 2e-3 : 1.5e-2) << apps::kBasinNames[b];
  }
}

TEST(ThreeHoleReport, ReportOfAModelWhoseStatesAreTheBasins) {
  const models::LatfModel model = vee_model();
  apps::ReportOptions options;
  options.temperatures = {0.7, 2.0};
  options.training_temperatures = {0.7};
  options.samples_per_block = 2000;
  options.blocks = 3;
  options.curve_points = 5;
  const apps::ThreeHoleReport report = apps::make_three_hole_report(model, options);
  EXPECT_EQ(report.states, 3);
  EXPECT_EQ(report.basin_of_state, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(report.state_at_minimum, (std::array<std::int64_t, 3>{0, 1, 2}));
  ASSERT_EQ(report.results.size(), 2u);
  for (const auto& r : report.results) {
    SCOPED_TRACE(r.temperature);
    EXPECT_EQ(r.training, r.temperature == 0.7);
    // The flow is untrained, so the predictions are arbitrary, but they are populations.
    EXPECT_NEAR(sum(r.states.predicted), 1.0, 1e-9);
    EXPECT_NEAR(sum(r.basins.predicted), 1.0, 1e-9);
    EXPECT_NEAR(sum(r.states.exact), 1.0, 1e-12);
    EXPECT_NEAR(sum(r.basins.exact), 1.0, 1e-12);
    for (int b = 0; b < 3; ++b) {
      EXPECT_DOUBLE_EQ(r.basins.predicted[b], r.states.predicted[b]);  // one state per basin
      EXPECT_GE(r.basins.error[b], 0.0);
      EXPECT_NEAR(r.states.exact[b], r.basins.exact[b], 2e-2);
    }
  }
  ASSERT_EQ(report.curve_temperatures.size(), 5u);
  EXPECT_NEAR(report.curve_temperatures.front(), 0.8 * 0.7, 1e-12);
  EXPECT_NEAR(report.curve_temperatures.back(), 1.1 * 2.0, 1e-12);
  for (const auto& row : report.curve_states) EXPECT_NEAR(sum(row), 1.0, 1e-12);

  const nlohmann::ordered_json j = apps::report_json(report);
  EXPECT_EQ(j["basin_of_state"], nlohmann::ordered_json({"left", "right", "top"}));
  EXPECT_EQ(j["state_at_minimum"]["top"], 2);
  ASSERT_EQ(j["results"].size(), 2u);
  for (const char* b : apps::kBasinNames)
    for (const char* key : {"predicted", "error", "exact"}) EXPECT_TRUE(j["results"][1]["basins"][b].contains(key));
  EXPECT_EQ(j["results"][1]["states"].size(), 3u);
  EXPECT_EQ(j["exact_curve"]["states"].size(), 5u);
  const std::string table = apps::format_report(report);
  EXPECT_NE(table.find("(training T)"), std::string::npos) << table;
  EXPECT_NE(table.find("state 2 (top)"), std::string::npos) << table;
}

}  // namespace
}  // namespace latf
