// The `latf` executable run as a subprocess: the whole pipeline on tiny data, --help of every
// subcommand, and bad inputs (clear message naming the input, non-zero exit, no output left).
#include <filesystem>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "data/npy.hpp"
#include "models/checkpoint.hpp"
#include "tests/cli_support.hpp"
#include "tests/support.hpp"
#include "tests/temp_dir.hpp"

namespace latf {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::slurp;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LATF_SKIP_WITHOUT_CLI();
    dir_ = std::make_unique<testing::TempDir>("latf_cli");
  }

  std::string path(const std::string& name) const { return dir_->file(name); }
  CliResult latf(const std::vector<std::string>& args) const { return testing::run_latf(args, dir_->path()); }
  // Nothing named `name` or `name.tmp-*` exists in the test directory.
  void expect_no_output(const std::string& name) const { testing::expect_no_output(dir_->path(), name); }

  std::unique_ptr<testing::TempDir> dir_;
};

data::NpyArray read(const std::string& file) { return data::read_npy(file); }

void expect_shape(const std::string& file, data::NpyType type, std::vector<std::int64_t> shape) {
  SCOPED_TRACE(file);
  ASSERT_TRUE(fs::exists(file));
  const data::NpyArray a = read(file);
  EXPECT_EQ(a.type, type);
  EXPECT_EQ(a.shape, shape);
}

TEST_F(CliTest, SimulateTrainEncodeSampleEndToEnd) {
  const std::string sim = path("sim"), run = path("run"), enc = path("enc"), smp = path("smp");
  CliResult r = latf({"simulate", "three-hole", "--temperatures", "0.7,1.5", "--frames", "300", "--replicas", "2",
                   "--seed", "3", "--equilibration-steps", "100", "--out", sim});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto manifest = nlohmann::json::parse(slurp(sim + "/manifest.json"));
  ASSERT_EQ(manifest.size(), 4u);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(manifest[k]["file"], "traj_" + std::to_string(k) + ".npy");
    EXPECT_DOUBLE_EQ(manifest[k]["temperature"].get<double>(), k < 2 ? 0.7 : 1.5);
    expect_shape(sim + "/traj_" + std::to_string(k) + ".npy", data::NpyType::Float32, {300, 2});
  }

  // Tiny settings from a TOML file; a flag given on the command line overrides the file's lag.
  std::ofstream(path("tiny.toml")) << "lag = 7\n[spib]\ninitial_states = 8\n[flow]\nlayers = 2\n"
                                      "[spib_phase]\nrefinements = 1\nmax_epochs = 3\nbatch_size = 256\n"
                                      "[joint_phase]\nrefinements = 0\nmax_epochs = 3\nbatch_size = 256\n";
  r = latf({"train", "--data", sim + "/manifest.json", "--out", run, "--device", "cpu", "--config", path("tiny.toml"),
            "--lag", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("spib  round 0 epoch"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("joint round 0 epoch"), std::string::npos) << r.out;
  expect_no_output("run.");  // no staging directory left
  ASSERT_TRUE(fs::exists(run + "/model.latf"));
  const auto config = nlohmann::json::parse(slurp(run + "/config.json"));
  EXPECT_EQ(config["lag"], 5);
  EXPECT_EQ(config["flow"]["layers"], 2);
  EXPECT_EQ(config["spib_phase"]["refinements"], 1);
  EXPECT_EQ(config["spib"]["initial_states"], 8);
  EXPECT_EQ(config["joint_phase"]["batch_size"], 256);
  EXPECT_EQ(config["joint_phase"]["patience"], 200);  // untouched default
  const auto history = nlohmann::json::parse(slurp(run + "/history.json"));
  ASSERT_GE(history.size(), 2u);
  EXPECT_EQ(history.front()["phase"], "spib");
  EXPECT_EQ(history.back()["phase"], "joint");
  const data::NpyArray populations = read(run + "/state_populations.npy");
  ASSERT_EQ(populations.shape.size(), 1u);
  const std::int64_t states = populations.shape[0];
  EXPECT_GE(states, 2);
  EXPECT_EQ(states, history.back()["states"].get<std::int64_t>());
  expect_shape(run + "/representative_inputs.npy", data::NpyType::Float32, {states, 2});
  for (int k = 0; k < 4; ++k) {
    const std::string prefix = run + "/traj_" + std::to_string(k) + "_";
    expect_shape(prefix + "labels.npy", data::NpyType::Int64, {300});
    expect_shape(prefix + "latent_mean.npy", data::NpyType::Float32, {300, 2});
    expect_shape(prefix + "state_probabilities.npy", data::NpyType::Float32, {300, states});
  }
  const std::vector<float> probabilities = data::npy_to_tensor(read(run + "/traj_0_state_probabilities.npy")).to_vector();
  for (std::size_t i = 0; i < probabilities.size(); i += states) {
    double sum = 0;
    for (std::int64_t k = 0; k < states; ++k) sum += probabilities[i + k];
    ASSERT_NEAR(sum, 1.0, 1e-4) << "row " << i / states;
  }

  r = latf({"encode", "--model", run + "/model.latf", "--data", sim + "/traj_0.npy", "--out", enc, "--device", "cpu"});
  ASSERT_EQ(r.code, 0) << r.err;
  expect_shape(enc + "/latent_mean.npy", data::NpyType::Float32, {300, 2});
  expect_shape(enc + "/state_probabilities.npy", data::NpyType::Float32, {300, states});
  // The same model on the same frames: encode reproduces what train wrote.
  EXPECT_EQ(data::npy_to_integers(read(enc + "/labels.npy")), data::npy_to_integers(read(run + "/traj_0_labels.npy")));

  r = latf({"sample", "--model", run + "/model.latf", "--temperature", "1.0", "--n", "500", "--seed", "4", "--out", smp,
            "--device", "cpu"});
  ASSERT_EQ(r.code, 0) << r.err;
  expect_shape(smp + "/latent.npy", data::NpyType::Float32, {500, 2});
  expect_shape(smp + "/states.npy", data::NpyType::Int64, {500});
  for (std::int64_t s : data::npy_to_integers(read(smp + "/states.npy"))) {
    ASSERT_GE(s, 0);
    ASSERT_LT(s, states);
  }
}

TEST_F(CliTest, DivergenceKeepsTheLastGoodCheckpointInRunDirFailed) {
  data::write_npy(path("frames.npy"), testing::random_tensor({200, 2}, 5));
  const std::string run = path("run");
  // An absurd joint-phase learning rate: the SPIB phase completes, the first joint step blows up.
  const CliResult r = latf({"train", "--data", path("frames.npy"), "--temperatures", "1", "--out", run, "--device", "cpu",
                         "--lag", "2", "--initial-states", "4", "--spib-refinements", "0", "--spib-max-epochs", "2",
                         "--flow-layers", "2", "--joint-learning-rate", "1e30", "--quiet"});
  EXPECT_EQ(r.code, 1);
  for (const char* part : {"diverged", "joint phase", "epoch 0", "step", "run.failed"})
    EXPECT_NE(r.err.find(part), std::string::npos) << part << " missing from: " << r.err;
  EXPECT_FALSE(fs::exists(run));
  expect_no_output("run.tmp");
  const models::Checkpoint kept = models::load_checkpoint(run + ".failed/model.latf", Device::cpu());
  EXPECT_EQ(kept.model.latent_dim(), 2);
  const auto history = nlohmann::json::parse(slurp(run + ".failed/history.json"));
  ASSERT_FALSE(history.empty());
  for (const auto& epoch : history) EXPECT_EQ(epoch["phase"], "spib");
  EXPECT_TRUE(fs::exists(run + ".failed/config.json"));
}

TEST_F(CliTest, ManifestLabelsAndWeightsAreUsed) {
  const std::int64_t n = 200;
  data::write_npy(path("frames.npy"), testing::random_tensor({n, 2}, 6));
  std::vector<std::int64_t> labels(n);
  for (std::int64_t i = 0; i < n; ++i) labels[i] = i % 3;
  data::write_npy(path("labels.npy"), labels, {n});
  data::write_npy(path("weights.npy"), std::vector<double>(n, 0.5), {n});
  std::ofstream(path("m.json")) << R"([{"file": "frames.npy", "temperature": 2, "labels": "labels.npy", "weights": "weights.npy"}])";
  const std::string run = path("run");
  const CliResult r = latf({"train", "--data", path("m.json"), "--out", run, "--device", "cpu", "--lag", "2",
                         "--spib-refinements", "0", "--spib-max-epochs", "1", "--joint-max-epochs", "1",
                         "--joint-refinements", "0", "--flow-layers", "2", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << "--quiet printed: " << r.out;
  const auto history = nlohmann::json::parse(slurp(run + "/history.json"));
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.front()["states"], 3);  // the given labels, not k-means' 100 clusters
  expect_shape(run + "/traj_0_labels.npy", data::NpyType::Int64, {n});
}

TEST_F(CliTest, HelpOfEverySubcommandExitsZero) {
  for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
           {"--help"}, {"simulate", "three-hole", "--help"}, {"train", "--help"}, {"encode", "--help"}, {"sample", "--help"}}) {
    const CliResult r = latf(command);
    EXPECT_EQ(r.code, 0) << command[0] << ": " << r.err;
    EXPECT_NE(r.out.find(command.size() == 1 ? "train" : "--"), std::string::npos) << command[0] << ": " << r.out;
  }
  const CliResult train = latf({"train", "--help"});
  for (const char* flag : {"--lag", "--beta", "--tau", "--flow-layers", "--spib-batch-size", "--spib-refinements",
                           "--joint-patience", "--quiet", "--device"})
    EXPECT_NE(train.out.find(flag), std::string::npos) << flag;
}

struct BadInput {
  const char* name;
  std::vector<std::string> args;  // "@" is replaced by the test directory
  const char* named;              // must appear on stderr
  int code;                       // expected exit code
};

class CliBadInputTest : public CliTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(CliBadInputTest, FailsNamingTheInputAndWritesNothing) {
  // Inputs the cases refer to: valid frames, a file that is no checkpoint, a bad manifest.
  data::write_npy(path("frames.npy"), testing::random_tensor({60, 2}, 1));
  std::ofstream(path("garbage.latf")) << "not a checkpoint";
  std::ofstream(path("zero_t.json")) << R"([{"file": "frames.npy", "temperature": 0}])";
  std::ofstream(path("missing_ref.json")) << R"([{"file": "absent.npy", "temperature": 1}])";
  std::ofstream(path("unknown_key.toml")) << "[flow]\nlayerz = 3\n";
  std::ofstream(path("bad_type.toml")) << "lag = \"ten\"\n";
  std::ofstream(path("broken.toml")) << "lag = = 3\n";
  data::write_npy(path("ten_labels.npy"), std::vector<std::int64_t>(10, 0), {10});
  std::ofstream(path("short_labels.json")) << R"([{"file": "frames.npy", "temperature": 1, "labels": "ten_labels.npy"}])";
  fs::create_directories(path("existing"));
  std::ofstream(path("existing/keep.txt")) << "keep";

  const CliResult r = latf(testing::in_test_dir(GetParam().args, dir_->path()));
  testing::expect_one_line_error(r, GetParam().code, GetParam().named);
  expect_no_output("out");
  EXPECT_EQ(slurp(path("existing/keep.txt")), "keep");
}

const std::vector<std::string> kTinyTrain = {"--spib-max-epochs", "1", "--joint-max-epochs", "1", "--initial-states", "4"};

std::vector<std::string> train_with(std::vector<std::string> args) {
  args.insert(args.begin(), "train");
  args.insert(args.end(), kTinyTrain.begin(), kTinyTrain.end());
  return args;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CliBadInputTest,
    ::testing::Values(
        BadInput{"UnknownOption", train_with({"--data", "@/frames.npy", "--temperatures", "1", "--out", "@/out", "--bogus"}),
                 "--bogus", 2},
        BadInput{"NoSubcommand", {}, "subcommand", 2},
        BadInput{"MissingDataFile", train_with({"--data", "@/absent.npy", "--temperatures", "1", "--out", "@/out"}),
                 "absent.npy", 2},
        BadInput{"ManifestNamesMissingFile", train_with({"--data", "@/missing_ref.json", "--out", "@/out"}), "absent.npy",
                 1},
        BadInput{"ManifestTemperatureZero", train_with({"--data", "@/zero_t.json", "--out", "@/out"}), "zero_t.json", 1},
        BadInput{"ManifestLabelsWrongLength", train_with({"--data", "@/short_labels.json", "--out", "@/out"}),
                 "ten_labels.npy", 1},
        BadInput{"TrainTemperatureNotANumber",
                 train_with({"--data", "@/frames.npy", "--temperatures", "warm", "--out", "@/out"}), "warm", 2},
        BadInput{"TrainTemperatureMissing", train_with({"--data", "@/frames.npy", "--out", "@/out"}), "--temperatures",
                 2},
        BadInput{"TrainTemperatureCountMismatch",
                 train_with({"--data", "@/frames.npy", "--temperatures", "1,2", "--out", "@/out"}), "--temperatures", 2},
        BadInput{"InvalidConfigValue",
                 train_with({"--data", "@/frames.npy", "--temperatures", "1", "--spib-batch-size", "0", "--out", "@/out"}),
                 "batch_size", 2},
        BadInput{"ConfigUnknownKey",
                 train_with({"--data", "@/frames.npy", "--temperatures", "1", "--config", "@/unknown_key.toml", "--out",
                             "@/out"}),
                 "flow.layerz", 2},
        BadInput{"ConfigWrongType",
                 train_with({"--data", "@/frames.npy", "--temperatures", "1", "--config", "@/bad_type.toml", "--out",
                             "@/out"}),
                 "lag (line 1): expected an integer", 2},
        BadInput{"ConfigSyntaxError",
                 train_with({"--data", "@/frames.npy", "--temperatures", "1", "--config", "@/broken.toml", "--out",
                             "@/out"}),
                 "broken.toml: line 1", 2},
        BadInput{"ConfigMissing",
                 train_with({"--data", "@/frames.npy", "--temperatures", "1", "--config", "@/absent.toml", "--out",
                             "@/out"}),
                 "absent.toml", 2},
        BadInput{"OutputExists", train_with({"--data", "@/frames.npy", "--temperatures", "1", "--out", "@/existing"}),
                 "existing", 2},
        BadInput{"SimulateTemperatureListUnparsable",
                 {"simulate", "three-hole", "--temperatures", "0.7,,1.5", "--frames", "10", "--out", "@/out"}, "0.7,,1.5",
                 2},
        BadInput{"SimulateTemperatureNotPositive",
                 {"simulate", "three-hole", "--temperatures", "0.7,-1", "--frames", "10", "--out", "@/out"}, "-1", 2},
        BadInput{"SimulateZeroFrames",
                 {"simulate", "three-hole", "--temperatures", "1", "--frames", "0", "--out", "@/out"}, "--frames", 2},
        BadInput{"EncodeMissingModel",
                 {"encode", "--model", "@/absent.latf", "--data", "@/frames.npy", "--out", "@/out"}, "absent.latf", 2},
        BadInput{"EncodeCorruptModel",
                 {"encode", "--model", "@/garbage.latf", "--data", "@/frames.npy", "--out", "@/out"}, "garbage.latf", 1},
        BadInput{"SampleTemperatureZero",
                 {"sample", "--model", "@/garbage.latf", "--temperature", "0", "--n", "5", "--out", "@/out"},
                 "--temperature", 2},
        BadInput{"SampleTemperatureNegative",
                 {"sample", "--model", "@/garbage.latf", "--temperature", "-2", "--n", "5", "--out", "@/out"},
                 "--temperature", 2},
        BadInput{"SampleBadDevice",
                 {"sample", "--model", "@/garbage.latf", "--temperature", "1", "--n", "5", "--device", "tpu", "--out",
                  "@/out"},
                 "tpu", 2}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace latf
