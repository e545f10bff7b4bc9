// The training progress bar: its line format and throttling (apps/cli/progress.hpp, on a string
// sink with a fake clock), the trainer's step callback that feeds it, and `latf train` drawing it
// on stderr only when asked (stderr here is a file, not a terminal).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "apps/cli/progress.hpp"
#include "data/npy.hpp"
#include "models/trainer.hpp"
#include "tests/cli_support.hpp"
#include "tests/support.hpp"
#include "tests/temp_dir.hpp"


namespace latf {
namespace {

namespace fs = std::filesystem;
using models::Phase;
using models::StepProgress;

StepProgress at(Phase phase, int round, int epoch, std::int64_t step, std::int64_t steps, double seconds) {
  StepProgress p;
  p.phase = phase;
  p.round = round;
  p.epoch = epoch;
  p.step = step;
  p.steps_in_epoch = steps;
  p.seconds = seconds;
  return p;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

TEST(ProgressFormat, BarPercentStepsAndEtaOfAPartialEpoch) {
  // 700 of 1600 steps in 4 s: 8.75 of 20 cells and 43.75 % both round down; ETA 4/700 × 900 s.
  EXPECT_EQ(cli::format_progress(at(Phase::Spib, 2, 14, 700, 1600, 4.0)),
            "spib  round 2 epoch 14 [########............] 43%  700/1600 steps  ETA 5.1 s");
  EXPECT_EQ(cli::format_progress(at(Phase::Joint, 0, 3, 1, 3, 0.5), 10),
            "joint round 0 epoch 3 [###.......] 33%  1/3 steps  ETA 1.0 s");
}

TEST(ProgressFormat, LastStepIsFullWithNoTimeLeft) {
  EXPECT_EQ(cli::format_progress(at(Phase::Joint, 1, 0, 7, 7, 2.0), 5), "joint round 1 epoch 0 [#####] 100%  7/7 steps  ETA 0.0 s");
}

TEST(ProgressFormat, BarKeepsItsWidthAtEveryStep) {
  for (const int width : {1, 7, 20, 33})
    for (std::int64_t step = 1; step <= 13; ++step) {
      const std::string line = cli::format_progress(at(Phase::Spib, 0, 0, step, 13, 1.0), width);
      const std::size_t open = line.find('['), close = line.find(']');
      ASSERT_NE(close, std::string::npos) << line;
      EXPECT_EQ(close - open - 1, static_cast<std::size_t>(width)) << line;
      const auto filled = std::count(line.begin() + open, line.begin() + close, '#');
      EXPECT_EQ(filled, step * width / 13) << line;
    }
}

TEST(ProgressFormat, EtaUnitsGrowWithTheWait) {
  EXPECT_EQ(cli::format_eta(0), "0.0 s");
  EXPECT_EQ(cli::format_eta(3.24), "3.2 s");
  EXPECT_EQ(cli::format_eta(59.9), "59.9 s");
  EXPECT_EQ(cli::format_eta(59.97), "1m00s");  // not "60.0 s"
  EXPECT_EQ(cli::format_eta(61), "1m01s");
  EXPECT_EQ(cli::format_eta(3599), "59m59s");
  EXPECT_EQ(cli::format_eta(2 * 3600 + 7 * 60 + 10), "2h07m");
  EXPECT_EQ(cli::format_eta(NAN), "0.0 s");
}

TEST(ProgressBar, RedrawsAtMostOncePerIntervalButAlwaysAtTheLastStep) {
  std::ostringstream sink;
  double now = 100.0;
  cli::ProgressBar bar(sink, [&now] { return now; }, 0.1);
  bar.update(at(Phase::Spib, 0, 0, 1, 5, 0.01));  // the first step of a bar is drawn
  now += 0.05;
  bar.update(at(Phase::Spib, 0, 0, 2, 5, 0.02));  // too soon
  now += 0.04;
  bar.update(at(Phase::Spib, 0, 0, 3, 5, 0.03));  // 0.09 s after the last draw: still too soon
  now += 0.02;
  bar.update(at(Phase::Spib, 0, 0, 4, 5, 0.04));  // 0.11 s: drawn
  now += 0.001;
  bar.update(at(Phase::Spib, 0, 0, 5, 5, 0.05));  // last step: drawn however soon
  const std::string text = sink.str();
  EXPECT_EQ(count(text, "\r"), 3u) << text;
  EXPECT_NE(text.find("1/5 steps"), std::string::npos);
  EXPECT_EQ(text.find("2/5 steps"), std::string::npos);
  EXPECT_EQ(text.find("3/5 steps"), std::string::npos);
  EXPECT_NE(text.find("4/5 steps"), std::string::npos);
  EXPECT_NE(text.find("100%  5/5 steps"), std::string::npos);
  EXPECT_EQ(text.find('\n'), std::string::npos);  // one line, redrawn in place
}

TEST(ProgressBar, ShorterLinePaddedAndClearBlanksTheLine) {
  std::ostringstream sink;
  double now = 0;
  {
    cli::ProgressBar bar(sink, [&now] { return now; }, 0.1);
    const StepProgress first = at(Phase::Spib, 0, 0, 1, 3, 5.0);    // ETA 10.0 s
    const StepProgress second = at(Phase::Spib, 0, 0, 2, 3, 19.8);  // ETA 9.9 s: one character shorter
    const std::string line1 = cli::format_progress(first), line2 = cli::format_progress(second);
    ASSERT_EQ(line1.size(), line2.size() + 1);
    bar.update(first);
    now = 1;
    bar.update(second);
    EXPECT_EQ(sink.str(), "\r" + line1 + "\r" + line2 + " ");
    sink.str("");
    bar.clear();
    EXPECT_EQ(sink.str(), "\r" + std::string(line1.size(), ' ') + "\r");  // as wide as the widest line shown
    sink.str("");
    bar.clear();  // nothing on screen: nothing written
    EXPECT_EQ(sink.str(), "");
    now = 2;
    bar.update(at(Phase::Joint, 0, 0, 1, 3, 1.0));  // a new epoch after a clear is drawn at once
    EXPECT_NE(sink.str().find("joint"), std::string::npos);
    sink.str("");
  }  // the destructor clears a bar still on screen
  EXPECT_EQ(sink.str().front(), '\r');
  EXPECT_EQ(sink.str().back(), '\r');
  EXPECT_EQ(sink.str().find_first_not_of("\r "), std::string::npos) << sink.str();
}

// ---------------------------------------------------------------------------------------------
// The trainer's step callback

models::Trajectory small_trajectory() {
  std::vector<float> values;
  std::vector<std::int64_t> labels;
  for (int i = 0; i < 300; ++i) {
    values.push_back(static_cast<float>(std::sin(0.05 * i)));
    values.push_back(static_cast<float>(i % 3));
    labels.push_back(i < 150 ? 0 : 1);
  }
  models::Trajectory t;
  t.frames = Tensor::from_vector(values, {300, 2});
  t.temperature = 1.0;
  t.name = "small";
  t.labels = labels;
  return t;
}

void expect_steps_per_epoch(bool step_checks) {
  models::DatasetOptions options;
  options.lag = 1;
  models::Dataset ds = models::Dataset::build({small_trajectory()}, options);
  models::LatfConfig config;
  config.lag = 1;
  config.flow.layers = 2;
  config.spib_phase.batch_size = 50;  // a partial last batch: the count must round up
  config.spib_phase.max_epochs = 2;
  config.spib_phase.refinements = 0;
  config.joint_phase.batch_size = 64;
  config.joint_phase.max_epochs = 1;
  config.joint_phase.refinements = 0;
  models::Trainer trainer(config, ds, Device::cpu());
  trainer.set_step_checks(step_checks);
  std::vector<StepProgress> steps;
  trainer.set_step_callback([&steps](const StepProgress& p) { steps.push_back(p); });
  trainer.train();

  const std::int64_t pairs = ds.pairs(models::Split::Train);
  ASSERT_GT(pairs % 50, 0) << "the test wants a partial last batch";
  const auto& history = trainer.history();
  ASSERT_EQ(history.size(), 3u);  // 2 SPIB epochs + 1 joint epoch
  std::size_t k = 0;
  for (const auto& epoch : history) {
    const std::int64_t batch = epoch.phase == Phase::Spib ? 50 : 64;
    const std::int64_t expected = (pairs + batch - 1) / batch;
    SCOPED_TRACE(::testing::Message() << models::phase_name(epoch.phase) << " epoch " << epoch.epoch);
    for (std::int64_t s = 1; s <= expected; ++s, ++k) {
      ASSERT_LT(k, steps.size());
      EXPECT_EQ(steps[k].phase, epoch.phase);
      EXPECT_EQ(steps[k].round, epoch.round);
      EXPECT_EQ(steps[k].epoch, epoch.epoch);
      EXPECT_EQ(steps[k].step, s);
      EXPECT_EQ(steps[k].steps_in_epoch, expected);
      EXPECT_GE(steps[k].seconds, 0.0);
      if (s > 1) {
        EXPECT_GE(steps[k].seconds, steps[k - 1].seconds);
      }
      EXPECT_LE(steps[k].seconds, epoch.seconds);
    }
  }
  EXPECT_EQ(k, steps.size()) << "validation steps must not be reported";
}

TEST(TrainerStepCallback, CalledOncePerTrainingStepWithIncreasingStep) { expect_steps_per_epoch(true); }

TEST(TrainerStepCallback, SameWithoutPerStepChecksAsOnAGpu) { expect_steps_per_epoch(false); }

// ---------------------------------------------------------------------------------------------
// `latf train`

class CliProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LATF_SKIP_WITHOUT_CLI();
    dir_ = std::make_unique<testing::TempDir>("latf_progress");
    data::write_npy(dir_->file("frames.npy"), testing::random_tensor({200, 2}, 11));
  }

  // `latf train` on the tiny data into RUN_DIR `name`, stdout and stderr captured in files.
  testing::CliResult train(const std::string& name, const std::vector<std::string>& extra) const {
    std::vector<std::string> args = {"train", "--data", dir_->file("frames.npy"), "--temperatures", "1",
                                     "--out", dir_->file(name), "--device", "cpu", "--initial-states", "4",
                                     "--spib-max-epochs", "2", "--spib-refinements", "0", "--joint-max-epochs", "1",
                                     "--joint-refinements", "0", "--spib-batch-size", "16", "--flow-layers", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::run_latf(args, dir_->path());
  }

  std::unique_ptr<testing::TempDir> dir_;
};

TEST_F(CliProgressTest, ProgressFlagDrawsTheBarOnStderrAndKeepsStdoutClean) {
  const testing::CliResult r = train("run", {"--progress"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("\rspib  round 0 epoch 0 ["), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\rjoint round 0 epoch 0 ["), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ETA "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("100%"), std::string::npos) << r.err;  // each epoch's last step is drawn
  EXPECT_EQ(r.err.find('\n'), std::string::npos) << r.err;    // nothing but the redrawn line
  EXPECT_EQ(r.err.back(), '\r') << "the bar is erased before the epoch line";
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << r.out;
  EXPECT_EQ(count(r.out, " epoch "), 3u) << r.out;  // the epoch summaries are unchanged
}

TEST_F(CliProgressTest, NoBarWhenStderrIsNotATerminal) {
  const testing::CliResult r = train("run", {});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(count(r.out, " epoch "), 3u) << r.out;
}

TEST_F(CliProgressTest, QuietPrintsNothingEvenWithProgress) {
  for (const auto& flags : {std::vector<std::string>{"--quiet"}, std::vector<std::string>{"--quiet", "--progress"}}) {
    const testing::CliResult r = train(flags.size() == 1 ? "quiet" : "quiet_progress", flags);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "") << flags.size();
    EXPECT_EQ(r.err, "") << flags.size();
  }
}

}  // namespace
}  // namespace latf
