// `latf demo --quick` end to end and `latf plot` on its run directory (the built `latf` run as a
// subprocess). Plot checks skip only where no Python with matplotlib exists.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/cli_support.hpp"
#include "tests/support.hpp"
#include "tests/temp_dir.hpp"

namespace latf {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::slurp;

// `env` is prepended to the command line (e.g. "LATF_PYTHON=/nonexistent").
CliResult latf(const testing::TempDir& dir, const std::vector<std::string>& args, const std::string& env = "") {
  return testing::run_latf(args, dir.path(), env);
}

bool plotting_unavailable(const CliResult& r) { return r.err.find("no Python 3 with numpy and matplotlib") != std::string::npos; }

std::uint32_t big_endian(const std::string& bytes, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

// A real, non-trivial PNG: signature, IHDR first with both sides > 100 pixels, and more bytes
// than a blank figure of that size compresses to.
void expect_png(const fs::path& file) {
  SCOPED_TRACE(file.string());
  ASSERT_TRUE(fs::is_regular_file(file));
  const std::string bytes = slurp(file);
  ASSERT_GT(bytes.size(), 33u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(bytes.substr(12, 4), "IHDR");
  EXPECT_GT(big_endian(bytes, 16), 100u);  // width
  EXPECT_GT(big_endian(bytes, 20), 100u);  // height
  EXPECT_GT(bytes.size(), 20000u);
}

const char* const kFigures[] = {"latent_fes_data.png", "latent_fes_generated.png", "profiles.png", "populations.png",
                                "training.png"};

double sum_of(const nlohmann::json& entries, const char* key) {
  double s = 0;
  for (const auto& e : entries) s += e[key].get<double>();
  return s;
}

class CliDemo : public ::testing::Test {
 protected:
  void SetUp() override {
    LATF_SKIP_WITHOUT_CLI();
  }
};

TEST_F(CliDemo, QuickDemoEndToEndThenPlot) {
  testing::TempDir dir("latf_demo");
  const std::string run = dir.file("run");
  const CliResult r = latf(dir, {"demo", "--quick", "--seed", "3", "--no-plots", "--device", "cpu", "--out", run});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Basin populations"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Learned-state populations"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(training T)"), std::string::npos) << r.out;
  for (const char* t : {"  0.50 ", "  3.00 "}) EXPECT_NE(r.out.find(t), std::string::npos) << t;

  for (const char* f : {"model.latf", "config.json", "history.json", "evaluation.json", "data/manifest.json",
                        "data/traj_0.npy", "traj_0_latent_mean.npy", "generated/manifest.json",
                        "generated/T_0.5/latent.npy", "generated/T_3/states.npy"})
    EXPECT_TRUE(fs::is_regular_file(fs::path(run) / f)) << f;
  EXPECT_FALSE(fs::exists(fs::path(run) / "plots"));

  const nlohmann::json ev = nlohmann::json::parse(slurp(fs::path(run) / "evaluation.json"));
  for (const char* key : {"states", "basin_of_state", "state_at_minimum", "results", "exact_curve"})
    EXPECT_TRUE(ev.contains(key)) << key;
  ASSERT_EQ(ev["results"].size(), 6u);
  const int states = ev["states"];
  for (const auto& row : ev["results"]) {
    SCOPED_TRACE(row["temperature"].get<double>());
    ASSERT_EQ(row["states"].size(), static_cast<std::size_t>(states));
    EXPECT_NEAR(sum_of(row["states"], "predicted"), 1.0, 1e-9);
    EXPECT_NEAR(sum_of(row["states"], "exact"), 1.0, 1e-9);
    double predicted = 0, exact = 0;
    for (const char* b : {"left", "right", "top"}) {
      predicted += row["basins"][b]["predicted"].get<double>();
      exact += row["basins"][b]["exact"].get<double>();
      EXPECT_GE(row["basins"][b]["error"].get<double>(), 0.0);
    }
    EXPECT_NEAR(predicted, 1.0, 1e-9);
    EXPECT_NEAR(exact, 1.0, 1e-9);
  }
  EXPECT_EQ(ev["results"][1]["training"], true);   // T = 0.7
  EXPECT_EQ(ev["results"][0]["training"], false);  // T = 0.5

  // The same command again refuses to replace the run (exit 2) unless --overwrite.
  const CliResult again = latf(dir, {"demo", "--quick", "--out", run});
  EXPECT_EQ(again.code, 2) << again.err;
  EXPECT_NE(again.err.find("exists"), std::string::npos) << again.err;

  const CliResult plot = latf(dir, {"plot", run});
  if (plotting_unavailable(plot)) GTEST_SKIP() << "no Python with matplotlib here: " << plot.err;
  ASSERT_EQ(plot.code, 0) << plot.out << plot.err;
  for (const char* f : kFigures) expect_png(fs::path(run) / "plots" / f);
}

TEST_F(CliDemo, PlotErrorsAreClear) {
  testing::TempDir dir("latf_demo");
  const CliResult missing = latf(dir, {"plot", dir.file("no_such_run")});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("no_such_run"), std::string::npos) << missing.err;

  fs::create_directories(dir.file("empty_run"));
  const CliResult bad_python = latf(dir, {"plot", dir.file("empty_run"), "--python", "/nonexistent/python3"});
  EXPECT_EQ(bad_python.code, 1);
  EXPECT_NE(bad_python.err.find("/nonexistent/python3 cannot import numpy and matplotlib"), std::string::npos)
      << bad_python.err;

  const CliResult empty = latf(dir, {"plot", dir.file("empty_run")});
  if (plotting_unavailable(empty)) GTEST_SKIP() << "no Python with matplotlib here: " << empty.err;
  EXPECT_EQ(empty.code, 1);
  EXPECT_NE(empty.err.find("nothing to plot"), std::string::npos) << empty.out << empty.err;
}

}  // namespace
}  // namespace latf
