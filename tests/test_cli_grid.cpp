// Grid search of `latf train` (apps/cli/grid_search.hpp): the expansion of list-valued config
// keys into combinations and folder names, and the `latf` executable run as a subprocess on
// tiny data: every combination trained into its own folder with a summary, a diverged one not
// stopping the others, bad list elements rejected before anything is written.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "apps/cli/grid_search.hpp"
#include "data/npy.hpp"
#include "tests/cli_support.hpp"
#include "tests/support.hpp"
#include "tests/temp_dir.hpp"

namespace latf {
namespace {

namespace fs = std::filesystem;
using cli::GridAxis;
using testing::CliResult;
using testing::slurp;
using nlohmann::ordered_json;

GridAxis axis(const std::string& key, std::vector<ordered_json> values) {
  GridAxis a;
  a.key = key;
  a.values = std::move(values);
  return a;
}

TEST(GridExpansion, ThreeKeysLastVaryingFastestWithPaddedIndexedNames) {
  const std::vector<GridAxis> axes = {axis("lag", {5, 10}), axis("spib.beta", {1e-4, 0.001, 0.5}),
                                      axis("spib.encoder", {"linear", "nonlinear"})};
  const std::vector<cli::GridPoint> points = cli::expand_grid(axes);
  ASSERT_EQ(points.size(), 12u);
  std::size_t k = 0;
  for (std::size_t a = 0; a < 2; ++a)
    for (std::size_t b = 0; b < 3; ++b)
      for (std::size_t c = 0; c < 2; ++c, ++k)
        EXPECT_EQ(points[k].choice, (std::vector<std::size_t>{a, b, c})) << "combination " << k;
  EXPECT_EQ(points[0].folder, "00_lag=5_spib.beta=0.0001_spib.encoder=linear");
  EXPECT_EQ(points[1].folder, "01_lag=5_spib.beta=0.0001_spib.encoder=nonlinear");
  EXPECT_EQ(points[2].folder, "02_lag=5_spib.beta=0.001_spib.encoder=linear");
  EXPECT_EQ(points[11].folder, "11_lag=10_spib.beta=0.5_spib.encoder=nonlinear");
  std::set<std::string> names;
  for (const auto& p : points) names.insert(p.folder);
  EXPECT_EQ(names.size(), points.size());
}

TEST(GridExpansion, OneValuedAxesGiveOneCombinationWithAnUnpaddedIndex) {
  const auto points = cli::expand_grid({axis("seed", {7}), axis("flow.layers", {2})});
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].folder, "0_seed=7_flow.layers=2");
  EXPECT_EQ(points[0].choice, (std::vector<std::size_t>{0, 0}));
}

TEST(GridExpansion, ValuesAreWrittenShortAndFilesystemSafe) {
  EXPECT_EQ(cli::grid_value_text(1e30), "1e+30");
  EXPECT_EQ(cli::grid_value_text(3.0), "3");
  EXPECT_EQ(cli::grid_value_text(0.1), "0.1");
  EXPECT_EQ(cli::grid_value_text(1e-4), "0.0001");
  EXPECT_EQ(cli::grid_value_text(1e-5), "1e-05");
  EXPECT_EQ(cli::grid_value_text(-1), "-1");
  EXPECT_EQ(cli::grid_value_text(true), "true");
  EXPECT_EQ(cli::grid_value_text("nonlinear"), "nonlinear");
  const auto points = cli::expand_grid({axis("spib.encoder", {"a/b c:*"})});
  EXPECT_EQ(points[0].folder, "0_spib.encoder=a_b_c__");
}

TEST(GridExpansion, LongNamesAreCutButStayUnique) {
  const std::string long_value(300, 'x');
  const auto points = cli::expand_grid({axis("spib.encoder", {long_value + "1", long_value + "2"})});
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].folder.size(), 200u);
  EXPECT_EQ(points[0].folder.substr(0, 2), "0_");
  EXPECT_EQ(points[1].folder.substr(0, 2), "1_");
}

// ---------------------------------------------------------------------------------------------
// The executable

// summary.tsv as rows of fields, header first.
std::vector<std::vector<std::string>> read_tsv(const fs::path& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream text(slurp(path));
  for (std::string line; std::getline(text, line);) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
      fields.push_back(line.substr(start, tab - start));
    fields.push_back(line.substr(start));
    rows.push_back(fields);
  }
  return rows;
}

std::size_t column(const std::vector<std::string>& header, const std::string& name) {
  const auto it = std::find(header.begin(), header.end(), name);
  EXPECT_NE(it, header.end()) << name;
  return static_cast<std::size_t>(it - header.begin());
}

class CliGridTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LATF_SKIP_WITHOUT_CLI();
    dir_ = std::make_unique<testing::TempDir>("latf_grid");
    data::write_npy(path("frames.npy"), testing::random_tensor({200, 2}, 5));
  }

  std::string path(const std::string& name) const { return dir_->file(name); }

  CliResult latf(const std::vector<std::string>& args) const { return testing::run_latf(args, dir_->path()); }

  // Tiny training on frames.npy with the TOML `config`; extra flags after.
  CliResult train(const std::string& config, std::vector<std::string> extra = {}) const {
    std::ofstream(path("grid.toml")) << config;
    std::vector<std::string> args = {"train", "--data", path("frames.npy"), "--temperatures", "1", "--out", path("run"),
                                     "--device", "cpu", "--config", path("grid.toml"), "--initial-states", "4",
                                     "--spib-refinements", "0", "--spib-max-epochs", "1", "--joint-refinements", "0",
                                     "--joint-max-epochs", "1", "--flow-layers", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return latf(args);
  }

  // Only the inputs are left in the test directory: no run, no staging directory.
  void expect_no_run_dir() const {
    EXPECT_EQ(dir_->entries(), (std::vector<std::string>{"frames.npy", "grid.toml"}));
  }

  std::unique_ptr<testing::TempDir> dir_;
};

TEST_F(CliGridTest, TwoByOneGridTrainsBothCombinationsAndSummarises) {
  const CliResult r = train("lag = [2, 3]\n[spib]\nbeta = [0.001]\n", {"--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(dir_->entries(), (std::vector<std::string>{"frames.npy", "grid.toml", "run"}));  // staging renamed
  const std::string run = path("run");
  const std::vector<std::string> folders = {"0_lag=2_spib.beta=0.001", "1_lag=3_spib.beta=0.001"};
  for (std::size_t k = 0; k < 2; ++k) {
    SCOPED_TRACE(folders[k]);
    const std::string folder = run + "/" + folders[k];
    for (const char* file : {"model.latf", "history.json", "traj_0_labels.npy", "state_populations.npy"})
      EXPECT_TRUE(fs::exists(folder + "/" + file)) << file;
    const auto config = nlohmann::json::parse(slurp(folder + "/config.json"));
    EXPECT_EQ(config["lag"], k == 0 ? 2 : 3);
    EXPECT_DOUBLE_EQ(config["spib"]["beta"].get<double>(), 0.001);
    EXPECT_EQ(config["flow"]["layers"], 2);  // flags apply to every combination
  }
  EXPECT_FALSE(fs::exists(run + "/model.latf"));  // a grid has no top-level run

  const auto rows = read_tsv(run + "/summary.tsv");
  ASSERT_EQ(rows.size(), 3u);
  const auto& header = rows[0];
  for (std::size_t k = 0; k < 2; ++k) {
    const auto& row = rows[k + 1];
    ASSERT_EQ(row.size(), header.size());
    EXPECT_EQ(row[column(header, "index")], std::to_string(k));
    EXPECT_EQ(row[column(header, "folder")], folders[k]);
    EXPECT_EQ(row[column(header, "lag")], k == 0 ? "2" : "3");
    EXPECT_EQ(row[column(header, "spib.beta")], "0.001");
    EXPECT_EQ(row[column(header, "status")], "ok");
    EXPECT_TRUE(std::isfinite(std::stod(row[column(header, "train_loss")])));
    EXPECT_TRUE(std::isfinite(std::stod(row[column(header, "validation_loss")])));
    EXPECT_GE(std::stoi(row[column(header, "states")]), 2);
    EXPECT_EQ(row[column(header, "epochs")], "2");  // one per phase
    EXPECT_GT(std::stod(row[column(header, "seconds")]), 0.0);
  }
  const auto history = nlohmann::json::parse(slurp(run + "/" + folders[1] + "/history.json"));
  EXPECT_EQ(std::to_string(history.back()["states"].get<int>()), rows[2][column(header, "states")]);

  const auto grid = nlohmann::json::parse(slurp(run + "/grid.json"));
  EXPECT_EQ(grid["grid"]["lag"], nlohmann::json::parse("[2, 3]"));
  ASSERT_EQ(grid["combinations"].size(), 2u);
  EXPECT_EQ(grid["combinations"][1]["values"]["lag"], 3);
  EXPECT_EQ(grid["combinations"][1]["folder"], folders[1]);
  EXPECT_EQ(grid["combinations"][1]["status"], "ok");

  // --quiet keeps the table: a header and one line per combination.
  EXPECT_NE(r.out.find("validation_loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(folders[1]), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;
}

TEST_F(CliGridTest, DivergedCombinationDoesNotStopTheOthersAndFailsTheCommand) {
  // The second learning rate blows up the first joint step, after the SPIB phase completed.
  const CliResult r = train("[joint_phase]\nlearning_rate = [1e30, 1e-3]\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("1 of 2 grid combinations failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("summary.tsv"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.out.find("grid 2/2"), std::string::npos) << "the second combination did not run: " << r.out;

  const std::string run = path("run");
  const std::string diverged = "0_joint_phase.learning_rate=1e+30", fine = "1_joint_phase.learning_rate=0.001";
  EXPECT_FALSE(fs::exists(run + "/" + diverged));
  EXPECT_TRUE(fs::exists(run + "/" + diverged + ".failed/model.latf"));  // the last good (SPIB) epoch
  EXPECT_TRUE(fs::exists(run + "/" + diverged + ".failed/history.json"));
  EXPECT_TRUE(fs::exists(run + "/" + fine + "/model.latf"));
  EXPECT_TRUE(fs::exists(run + "/" + fine + "/traj_0_latent_mean.npy"));

  const auto rows = read_tsv(run + "/summary.tsv");
  ASSERT_EQ(rows.size(), 3u);
  const auto& header = rows[0];
  EXPECT_EQ(rows[1][column(header, "status")], "diverged");
  EXPECT_EQ(rows[1][column(header, "folder")], diverged + ".failed");
  EXPECT_NE(rows[1][column(header, "message")].find("diverged in the joint phase"), std::string::npos);
  EXPECT_EQ(rows[1][column(header, "epochs")], "1");  // the SPIB epoch
  EXPECT_EQ(rows[2][column(header, "status")], "ok");
  EXPECT_EQ(rows[2][column(header, "message")], "");
  const auto grid = nlohmann::json::parse(slurp(run + "/grid.json"));
  EXPECT_EQ(grid["combinations"][0]["status"], "diverged");
  EXPECT_EQ(grid["combinations"][1]["status"], "ok");
}

TEST_F(CliGridTest, FlagReplacesTheListOfItsKey) {
  const CliResult r = train("lag = [2, 3]\n", {"--lag", "4", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string run = path("run");
  EXPECT_TRUE(fs::exists(run + "/model.latf"));  // a single run, as without the list
  EXPECT_FALSE(fs::exists(run + "/grid.json"));
  EXPECT_EQ(nlohmann::json::parse(slurp(run + "/config.json"))["lag"], 4);
  EXPECT_TRUE(r.out.empty()) << r.out;
}

// --stacked: the same grid trained as one stack of models gives each combination what the
// sequential grid gives it (the data set is the same here: only β and a learning rate vary).
TEST_F(CliGridTest, StackedGridMatchesTheSequentialGrid) {
  const std::string config = "[spib]\nbeta = [0.001, 0.01]\n[joint_phase]\nlearning_rate = [1e-3, 3e-3]\n";
  const CliResult sequential = train(config, {"--quiet"});
  ASSERT_EQ(sequential.code, 0) << sequential.err;
  fs::rename(path("run"), path("sequential"));
  const CliResult stacked = train(config, {"--stacked"});
  ASSERT_EQ(stacked.code, 0) << stacked.err;
  EXPECT_NE(stacked.out.find("stacked: 4 models trained together"), std::string::npos) << stacked.out;
  const auto rows = read_tsv(path("run") + "/summary.tsv");
  const auto before = read_tsv(path("sequential") + "/summary.tsv");
  ASSERT_EQ(rows.size(), 5u);
  const auto& header = rows[0];
  for (std::size_t k = 1; k < rows.size(); ++k) {
    SCOPED_TRACE(rows[k][column(header, "folder")]);
    EXPECT_EQ(rows[k][column(header, "folder")], before[k][column(header, "folder")]);
    EXPECT_EQ(rows[k][column(header, "status")], "ok");
    for (const char* same : {"train_loss", "validation_loss", "states", "epochs"})
      EXPECT_EQ(rows[k][column(header, same)], before[k][column(header, same)]) << same;
    const std::string folder = "/" + rows[k][column(header, "folder")];
    for (const char* file : {"model.latf", "config.json", "traj_0_labels.npy", "representative_inputs.npy"})
      EXPECT_TRUE(fs::exists(path("run") + folder + "/" + file)) << file;
    EXPECT_EQ(slurp(path("run") + folder + "/traj_0_latent_mean.npy"),
              slurp(path("sequential") + folder + "/traj_0_latent_mean.npy"));
  }
}

TEST_F(CliGridTest, StackedDivergedCombinationIsKeptAsItsLastGoodEpoch) {
  const CliResult r = train("[joint_phase]\nlearning_rate = [1e30, 1e-3]\n", {"--stacked", "--quiet"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("1 of 2 grid combinations failed"), std::string::npos) << r.err;
  const std::string run = path("run");
  const std::string diverged = "0_joint_phase.learning_rate=1e+30", fine = "1_joint_phase.learning_rate=0.001";
  EXPECT_TRUE(fs::exists(run + "/" + diverged + ".failed/model.latf"));
  EXPECT_TRUE(fs::exists(run + "/" + diverged + ".failed/history.json"));
  EXPECT_TRUE(fs::exists(run + "/" + fine + "/traj_0_latent_mean.npy"));
  const auto rows = read_tsv(run + "/summary.tsv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1][column(rows[0], "status")], "diverged");
  EXPECT_NE(rows[1][column(rows[0], "message")].find("diverged in the joint phase"), std::string::npos);
  EXPECT_EQ(rows[2][column(rows[0], "status")], "ok");
}

TEST_F(CliGridTest, StackedNeedsAGridWhoseCombinationsShareAStack) {
  const CliResult r = train("lag = [2, 3]\n", {"--stacked"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--stacked: grid combination 1_lag=3 differs from 0_lag=2 in 'lag'"), std::string::npos) << r.err;
  expect_no_run_dir();
}

// One configuration with --stacked trains as a stack of one: the same run as without.
TEST_F(CliGridTest, StackedSingleRunEqualsThePlainRun) {
  const CliResult plain = train("lag = 2\n", {"--quiet"});
  ASSERT_EQ(plain.code, 0) << plain.err;
  fs::rename(path("run"), path("plain"));
  const CliResult stacked = train("lag = 2\n", {"--stacked", "--quiet"});
  ASSERT_EQ(stacked.code, 0) << stacked.err;
  for (const char* file : {"model.latf", "config.json", "state_populations.npy", "representative_inputs.npy"})
    EXPECT_TRUE(fs::exists(path("run") + "/" + file)) << file;
  for (const char* file : {"traj_0_latent_mean.npy", "traj_0_labels.npy", "state_populations.npy"})
    EXPECT_EQ(slurp(path("run") + "/" + file), slurp(path("plain") + "/" + file)) << file;
  const auto a = nlohmann::json::parse(slurp(path("run") + "/history.json"));
  const auto b = nlohmann::json::parse(slurp(path("plain") + "/history.json"));
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t e = 0; e < a.size(); ++e) EXPECT_EQ(a[e]["train"], b[e]["train"]) << "epoch " << e;
}

struct BadList {
  const char* name;
  const char* toml;
  std::vector<const char*> named;  // each must appear on stderr
};

class CliGridBadListTest : public CliGridTest, public ::testing::WithParamInterface<BadList> {};

TEST_P(CliGridBadListTest, FailsWithExitCodeTwoNamingTheElementAndWritesNothing) {
  const CliResult r = train(GetParam().toml);
  EXPECT_EQ(r.code, 2) << r.err;
  for (const char* part : GetParam().named) EXPECT_NE(r.err.find(part), std::string::npos) << part << " missing: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "expected a one-line error, got: " << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  expect_no_run_dir();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CliGridBadListTest,
    ::testing::Values(
        BadList{"OutOfRangeElement", "lag = [5, -1]\n", {"grid.toml: lag[1] (line 1)", "expected ≥ 1 frame, got -1"}},
        BadList{"WrongTypeElement", "lag = [5, \"x\"]\n", {"lag[1] (line 1): expected an integer"}},
        BadList{"ElementOnItsOwnLine", "lag = [\n  5,\n  -1,\n]\n", {"lag[1] (line 3)"}},
        BadList{"ElementInATable", "[spib]\nbeta = [1e-4, -1.0]\n", {"spib.beta[1] (line 2)", "spib.beta: expected ≥ 0"}},
        BadList{"BadStringElement", "[spib]\nencoder = [\"linear\", \"deep\"]\n",
                {"spib.encoder[1] (line 2): expected \"linear\" or \"nonlinear\""}},
        BadList{"EmptyList", "lag = []\n", {"lag (line 1): empty list"}},
        BadList{"NestedList", "lag = [[5], 6]\n", {"lag[0] (line 1): nested lists are not allowed"}},
        BadList{"RepeatedValue", "lag = [5, 5]\n", {"lag[1] (line 1): 5 repeats lag[0]"}},
        BadList{"UnknownKey", "[flow]\nlayerz = [1, 2]\n", {"flow.layerz (line 2): unknown key"}}),
    [](const ::testing::TestParamInfo<BadList>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace latf
