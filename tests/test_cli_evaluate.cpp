// `latf simulate lj7` and `latf evaluate`, run as the built executable on tiny data: outputs
// and their invariants, --help, and bad inputs (one-line message naming the input, non-zero
// exit, no output directory left).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <nlohmann/json.hpp>

#include "data/npy.hpp"
#include "tests/cli_support.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::run_latf;
using testing::slurp;

// One tiny three-hole model for the whole suite (training it takes about a second): data at
// T = 0.7 and 1.5, two replicas each, trained long enough to keep several states.
class CliEvaluateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::latf_built()) return;
    shared_ = fs::temp_directory_path() / ("latf_cli_evaluate_" + std::to_string(::getpid()));
    fs::remove_all(shared_);
    fs::create_directories(shared_);
    const std::string sim = (shared_ / "sim").string(), run = (shared_ / "run").string();
    CliResult r = run_latf({"simulate", "three-hole", "--temperatures", "0.7,1.5", "--frames", "300", "--replicas", "2",
                         "--seed", "3", "--equilibration-steps", "100", "--quiet", "--out", sim},
                        shared_);
    ASSERT_EQ(r.code, 0) << r.err;
    r = run_latf({"train", "--data", sim + "/manifest.json", "--out", run, "--device", "cpu", "--lag", "5",
                  "--initial-states", "4", "--flow-layers", "2", "--spib-refinements", "0", "--spib-max-epochs", "30",
                  "--spib-batch-size", "128", "--joint-refinements", "0", "--joint-max-epochs", "5", "--quiet"},
                 shared_);
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    if (!shared_.empty()) fs::remove_all(shared_);
  }

  void SetUp() override {
    LATF_SKIP_WITHOUT_CLI();
    ASSERT_TRUE(fs::exists(model())) << "the suite's model was not trained";
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(test.begin(), test.end(), '/', '_');
    dir_ = shared_ / test;
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  static std::string model() { return (shared_ / "run" / "model.latf").string(); }
  static std::string sim(const std::string& file) { return (shared_ / "sim" / file).string(); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  CliResult latf(const std::vector<std::string>& args) const { return run_latf(args, dir_); }

  // Nothing named `name` or `name.tmp-*` exists in the test directory.
  void expect_no_output(const std::string& name) const { testing::expect_no_output(dir_, name); }

  static fs::path shared_;
  fs::path dir_;
};

fs::path CliEvaluateTest::shared_;

void expect_distribution(const nlohmann::json& populations, const nlohmann::json& errors, std::size_t states,
                         const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(populations.size(), states);
  ASSERT_EQ(errors.size(), states);
  double sum = 0;
  for (std::size_t k = 0; k < states; ++k) {
    ASSERT_TRUE(populations[k].is_number()) << populations;
    const double p = populations[k].get<double>();
    EXPECT_GE(p, 0.0);
    EXPECT_LE(p, 1.0);
    sum += p;
    ASSERT_TRUE(errors[k].is_number()) << errors;
    EXPECT_GE(errors[k].get<double>(), 0.0);
    EXPECT_TRUE(std::isfinite(errors[k].get<double>()));
  }
  EXPECT_NEAR(sum, 1.0, 1e-9);
}

// A profile file: float64 [d, bins], free energies ≥ 0 with minimum 0 per coordinate (kT),
// +inf only in empty bins; and its error file of the same shape.
void expect_profile(const std::string& file, std::int64_t d, std::int64_t bins) {
  SCOPED_TRACE(file);
  ASSERT_TRUE(fs::exists(file));
  const data::NpyArray a = data::read_npy(file);
  EXPECT_EQ(a.type, data::NpyType::Float64);
  ASSERT_EQ(a.shape, (std::vector<std::int64_t>{d, bins}));
  const std::vector<double> f = data::npy_to_tensor(a).to_double_vector();
  for (std::int64_t j = 0; j < d; ++j) {
    double lowest = INFINITY;
    for (std::int64_t b = 0; b < bins; ++b) {
      const double v = f[j * bins + b];
      ASSERT_FALSE(std::isnan(v));
      EXPECT_GE(v, 0.0);
      lowest = std::min(lowest, v);
    }
    EXPECT_EQ(lowest, 0.0) << "coordinate " << j;
  }
  const std::string error_file = file.substr(0, file.size() - 4) + "_error.npy";
  ASSERT_TRUE(fs::exists(error_file));
  EXPECT_EQ(data::read_npy(error_file).shape, (std::vector<std::int64_t>{d, bins}));
}

TEST_F(CliEvaluateTest, TableAndJsonWithDataAtTwoOfTheTemperatures) {
  const std::string out = path("eval");
  const CliResult r = latf({"evaluate", "--model", model(), "--temperatures", "0.5,1.5,1.0", "--data", sim("manifest.json"),
                         "--samples", "400", "--blocks", "4", "--bins", "20", "--seed", "2", "--device", "cpu", "--out",
                         out});
  ASSERT_EQ(r.code, 0) << r.err;
  expect_no_output("eval.");
  for (const char* part : {"state 0", "state 1", "KL", "data", "GMRQ (lag 5"})
    EXPECT_NE(r.out.find(part), std::string::npos) << part << " missing from:\n" << r.out;

  const auto report = nlohmann::json::parse(slurp(out + "/evaluation.json"));
  for (const char* key : {"model", "states", "latent_dim", "reference_temperature", "samples_per_block", "blocks", "seed",
                          "profiles", "temperatures", "gmrq"})
    EXPECT_TRUE(report.contains(key)) << key;
  const auto states = report["states"].get<std::size_t>();
  ASSERT_GE(states, 2u);
  ASSERT_EQ(report["latent_dim"], 2);
  EXPECT_EQ(report["blocks"], 4);
  EXPECT_EQ(report["profiles"]["bins"], 20);

  // The listed temperatures and 0.7, where data exist, in ascending order.
  const auto& temperatures = report["temperatures"];
  ASSERT_EQ(temperatures.size(), 4u);
  const std::vector<double> expected_t = {0.5, 0.7, 1.0, 1.5};
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& t = temperatures[i];
    EXPECT_DOUBLE_EQ(t["temperature"].get<double>(), expected_t[i]);
    expect_distribution(t["generated"]["populations"], t["generated"]["error"], states, "generated " + std::to_string(i));
    expect_profile(out + "/" + t["generated"]["profile"].get<std::string>(), 2, 20);
    const bool with_data = expected_t[i] == 0.7 || expected_t[i] == 1.5;
    ASSERT_EQ(t.contains("data"), with_data) << t;
    if (!with_data) continue;
    const auto& d = t["data"];
    EXPECT_EQ(d["frames"], 600);
    expect_distribution(d["populations"], d["error"], states, "data " + std::to_string(i));
    ASSERT_TRUE(d["latent_kl"].is_number());
    EXPECT_GE(d["latent_kl"].get<double>(), 0.0);
    EXPECT_TRUE(std::isfinite(d["latent_kl"].get<double>()));
    expect_profile(out + "/" + d["profile"].get<std::string>(), 2, 20);
  }
  const data::NpyArray centers = data::read_npy(out + "/profile_centers.npy");
  EXPECT_EQ(centers.shape, (std::vector<std::int64_t>{20}));

  const auto& gmrq = report["gmrq"];
  EXPECT_EQ(gmrq["lag"], 5);  // the model's lag
  ASSERT_FALSE(gmrq.contains("error")) << gmrq;
  const int rank = gmrq["rank"].get<int>();
  EXPECT_GE(rank, 2);
  EXPECT_LE(rank, static_cast<int>(states));
  ASSERT_EQ(gmrq["eigenvalues"].size(), static_cast<std::size_t>(rank));
  // The stationary eigenvalue is exactly 1 and every other lies in [-1, 1] (reversible estimate).
  EXPECT_NEAR(gmrq["eigenvalues"][0].get<double>(), 1.0, 1e-9);
  double sum = 0;
  for (const auto& v : gmrq["eigenvalues"]) {
    EXPECT_LE(v.get<double>(), 1.0 + 1e-9);
    EXPECT_GE(v.get<double>(), -1.0 - 1e-9);
    sum += v.get<double>();
  }
  EXPECT_NEAR(gmrq["train_score"].get<double>(), sum, 1e-9);
}

TEST_F(CliEvaluateTest, ThreeHoleAddsExactPopulationsNextToThePredictions) {
  const std::string out = path("eval");
  const CliResult r = latf({"evaluate", "--model", model(), "--temperatures", "0.5,1.5", "--data", sim("manifest.json"),
                         "--samples", "300", "--blocks", "3", "--device", "cpu", "--three-hole", "--out", out});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Basin populations"), std::string::npos) << r.out;
  const auto report = nlohmann::json::parse(slurp(out + "/evaluation.json"));
  ASSERT_TRUE(report.contains("three_hole"));
  const auto& three_hole = report["three_hole"];
  const auto states = report["states"].get<std::size_t>();
  ASSERT_EQ(three_hole["basin_of_state"].size(), states);
  const auto& rows = three_hole["results"];
  ASSERT_EQ(rows.size(), report["temperatures"].size());  // 0.5, 0.7 (data), 1.5
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_DOUBLE_EQ(rows[i]["temperature"].get<double>(), report["temperatures"][i]["temperature"].get<double>());
    // Training temperatures (for the state → basin map) are those of the data.
    const double t = rows[i]["temperature"].get<double>();
    EXPECT_EQ(rows[i]["training"].get<bool>(), t == 0.7 || t == 1.5);
    double exact = 0;
    for (const char* basin : {"left", "right", "top"}) exact += rows[i]["basins"][basin]["exact"].get<double>();
    EXPECT_NEAR(exact, 1.0, 1e-6);
    // The predictions next to the exact values are the populations of the main table.
    ASSERT_EQ(rows[i]["states"].size(), states);
    for (std::size_t k = 0; k < states; ++k)
      EXPECT_DOUBLE_EQ(rows[i]["states"][k]["predicted"].get<double>(),
                       report["temperatures"][i]["generated"]["populations"][k].get<double>());
  }
  // Symmetric wells: the exact left and right basins hold equal mass.
  EXPECT_NEAR(rows[0]["basins"]["left"]["exact"].get<double>(), rows[0]["basins"]["right"]["exact"].get<double>(), 1e-3);
}

TEST_F(CliEvaluateTest, SameSeedSameResultAndLagOption) {
  const std::vector<std::string> args = {"evaluate", "--model", model(), "--temperatures", "0.9", "--data",
                                         sim("traj_0.npy"), "--data", sim("traj_1.npy"), "--data-temperatures", "0.7",
                                         "--samples", "300", "--lag", "3", "--device", "cpu", "--quiet", "--out"};
  std::vector<std::string> first = args, second = args;
  first.push_back(path("a"));
  second.push_back(path("b"));
  CliResult r = latf(first);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << "--quiet printed: " << r.out;
  r = latf(second);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(path("a/evaluation.json")), slurp(path("b/evaluation.json")));
  const auto report = nlohmann::json::parse(slurp(path("a/evaluation.json")));
  EXPECT_EQ(report["gmrq"]["lag"], 3);
  ASSERT_EQ(report["temperatures"].size(), 2u);
  EXPECT_EQ(report["temperatures"][0]["data"]["frames"], 600);  // both .npy files at T = 0.7
  EXPECT_FALSE(report["temperatures"][1].contains("data"));
}

TEST_F(CliEvaluateTest, WithoutDataOnlyGeneratedScores) {
  const CliResult r = latf({"evaluate", "--model", model(), "--temperatures", "1", "--samples", "200", "--device", "cpu",
                         "--out", path("eval")});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto report = nlohmann::json::parse(slurp(path("eval/evaluation.json")));
  EXPECT_FALSE(report.contains("gmrq"));
  ASSERT_EQ(report["temperatures"].size(), 1u);
  EXPECT_FALSE(report["temperatures"][0].contains("data"));
  expect_distribution(report["temperatures"][0]["generated"]["populations"],
                      report["temperatures"][0]["generated"]["error"], report["states"].get<std::size_t>(), "T = 1");
}

TEST_F(CliEvaluateTest, SimulateLj7WritesSortedCoordinationNumbersOrderParametersAndManifest) {
  const std::string out = path("lj7");
  const std::int64_t frames = 40;
  CliResult r = latf({"simulate", "lj7", "--temperatures", "0.2,0.5", "--frames", std::to_string(frames), "--replicas", "2",
                   "--seed", "1", "--equilibration-steps", "200", "--steps-per-frame", "20", "--quiet", "--out", out});
  ASSERT_EQ(r.code, 0) << r.err;
  expect_no_output("lj7.");
  const auto manifest = nlohmann::json::parse(slurp(out + "/manifest.json"));
  ASSERT_EQ(manifest.size(), 4u);
  for (int k = 0; k < 4; ++k) {
    SCOPED_TRACE(k);
    EXPECT_EQ(manifest[k]["file"], "traj_" + std::to_string(k) + ".npy");
    EXPECT_EQ(manifest[k]["order_parameters"], "order_" + std::to_string(k) + ".npy");
    EXPECT_EQ(manifest[k]["replica"], k % 2);
    EXPECT_DOUBLE_EQ(manifest[k]["temperature"].get<double>(), k < 2 ? 0.2 : 0.5);
    const data::NpyArray c = data::read_npy(out + "/traj_" + std::to_string(k) + ".npy");
    const data::NpyArray mu = data::read_npy(out + "/order_" + std::to_string(k) + ".npy");
    EXPECT_EQ(c.type, data::NpyType::Float32);
    EXPECT_EQ(mu.type, data::NpyType::Float32);
    ASSERT_EQ(c.shape, (std::vector<std::int64_t>{frames, 7}));
    ASSERT_EQ(mu.shape, (std::vector<std::int64_t>{frames, 2}));
    const std::vector<float> cv = data::npy_to_tensor(c).to_vector(), mv = data::npy_to_tensor(mu).to_vector();
    for (std::int64_t f = 0; f < frames; ++f) {
      const float* row = &cv[f * 7];
      ASSERT_TRUE(std::is_sorted(row, row + 7)) << "frame " << f;
      // A coordination number counts at most the 6 other atoms (switching function ≤ 1).
      ASSERT_GE(row[0], 0.f);
      ASSERT_LE(row[6], 6.f);
      // μ2 is the variance of the seven coordination numbers, computed here independently.
      const double mean = std::accumulate(row, row + 7, 0.0) / 7;
      double var = 0;
      for (int i = 0; i < 7; ++i) var += (row[i] - mean) * (row[i] - mean) / 7;
      ASSERT_NEAR(mv[f * 2], var, 1e-4 + 1e-4 * var) << "frame " << f;
    }
  }
  // Replicas differ (independent noise), temperatures differ (independent streams).
  EXPECT_NE(slurp(out + "/traj_0.npy"), slurp(out + "/traj_1.npy"));
  EXPECT_NE(slurp(out + "/traj_0.npy"), slurp(out + "/traj_2.npy"));

  // The manifest, order-parameter entries included, is a valid input of `latf train`.
  r = latf({"train", "--data", out + "/manifest.json", "--out", path("run"), "--device", "cpu", "--lag", "2",
            "--initial-states", "3", "--flow-layers", "2", "--spib-refinements", "0", "--spib-max-epochs", "1",
            "--joint-refinements", "0", "--joint-max-epochs", "1", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(path("run/model.latf")));

  // An LJ7 model evaluates on its own data; --three-hole is refused for it.
  r = latf({"evaluate", "--model", path("run/model.latf"), "--temperatures", "0.3", "--data", out + "/manifest.json",
            "--samples", "100", "--lag", "2", "--device", "cpu", "--quiet", "--out", path("eval")});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto report = nlohmann::json::parse(slurp(path("eval/evaluation.json")));
  EXPECT_EQ(report["temperatures"].size(), 3u);  // 0.2, 0.3, 0.5
  r = latf({"evaluate", "--model", path("run/model.latf"), "--temperatures", "0.3", "--three-hole", "--device", "cpu",
            "--out", path("eval3")});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--three-hole"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("eval3")));
  expect_no_output("eval3");
}

TEST_F(CliEvaluateTest, HelpListsTheOptions) {
  CliResult r = latf({"evaluate", "--help"});
  EXPECT_EQ(r.code, 0) << r.err;
  for (const char* flag : {"--model", "--temperatures", "--data", "--data-temperatures", "--samples", "--blocks",
                           "--seed", "--lag", "--bins", "--out"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  r = latf({"simulate", "lj7", "--help"});
  EXPECT_EQ(r.code, 0) << r.err;
  for (const char* flag : {"--temperatures", "--frames", "--replicas", "--time-step", "--friction", "--steps-per-frame"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  r = latf({"--help"});
  EXPECT_NE(r.out.find("evaluate"), std::string::npos) << r.out;
}

struct BadInput {
  const char* name;
  std::vector<std::string> args;  // "@" → the test directory, "MODEL" → the suite's model
  const char* named;              // must appear on stderr
  int code;
};

class CliEvaluateBadInputTest : public CliEvaluateTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(CliEvaluateBadInputTest, FailsNamingTheInputAndWritesNothing) {
  data::write_npy(path("frames2.npy"), testing::random_tensor({60, 2}, 1));
  data::write_npy(path("frames3.npy"), testing::random_tensor({60, 3}, 2));
  std::ofstream(path("garbage.latf")) << "not a checkpoint";
  std::vector<std::string> args = testing::in_test_dir(GetParam().args, dir_);
  std::replace(args.begin(), args.end(), std::string("MODEL"), model());
  const CliResult r = latf(args);
  testing::expect_one_line_error(r, GetParam().code, GetParam().named);
  expect_no_output("out");
}

std::vector<std::string> evaluate_with(std::vector<std::string> args) {
  args.insert(args.begin(), {"evaluate", "--samples", "50", "--device", "cpu", "--out", "@/out"});
  return args;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CliEvaluateBadInputTest,
    ::testing::Values(
        BadInput{"MissingModel", evaluate_with({"--model", "@/absent.latf", "--temperatures", "1"}), "absent.latf", 2},
        BadInput{"CorruptModel", evaluate_with({"--model", "@/garbage.latf", "--temperatures", "1"}), "garbage.latf", 1},
        BadInput{"TemperatureListUnparsable", evaluate_with({"--model", "MODEL", "--temperatures", "0.5,,1"}), "0.5,,1",
                 2},
        BadInput{"TemperatureNotANumber", evaluate_with({"--model", "MODEL", "--temperatures", "warm"}), "warm", 2},
        BadInput{"TemperatureZero", evaluate_with({"--model", "MODEL", "--temperatures", "0.5,0"}), "--temperatures", 2},
        BadInput{"TemperatureNegative", evaluate_with({"--model", "MODEL", "--temperatures", "-1"}), "-1", 2},
        BadInput{"DataTemperatureNegative",
                 evaluate_with({"--model", "MODEL", "--temperatures", "1", "--data", "@/frames2.npy",
                                "--data-temperatures", "-0.5"}),
                 "--data-temperatures", 2},
        BadInput{"DataWithoutTemperature",
                 evaluate_with({"--model", "MODEL", "--temperatures", "1", "--data", "@/frames2.npy"}),
                 "--data-temperatures", 2},
        BadInput{"DataWrongDescriptorCount",
                 evaluate_with({"--model", "MODEL", "--temperatures", "1", "--data", "@/frames3.npy",
                                "--data-temperatures", "1"}),
                 "frames3.npy", 1},
        BadInput{"MissingDataFile",
                 evaluate_with({"--model", "MODEL", "--temperatures", "1", "--data", "@/absent.npy",
                                "--data-temperatures", "1"}),
                 "absent.npy", 2},
        BadInput{"OneBlock", evaluate_with({"--model", "MODEL", "--temperatures", "1", "--blocks", "1"}), "--blocks", 2},
        BadInput{"Lj7TemperatureNotPositive",
                 {"simulate", "lj7", "--temperatures", "0.2,0", "--frames", "10", "--out", "@/out"}, "--temperatures", 2},
        BadInput{"Lj7ZeroFrames", {"simulate", "lj7", "--temperatures", "0.2", "--frames", "0", "--out", "@/out"},
                 "--frames", 2}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace latf
