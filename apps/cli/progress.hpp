#pragma once
// The per-epoch progress bar of `latf train` and `latf demo`: one stderr line redrawn with '\r'
//   spib  round 2 epoch 14 [########............] 43%  700/1600 steps  ETA 3.2 s
// fed by models::Trainer's step callback. Inline (like grid_search.hpp) so that tests drive it
// with a string sink and a fake clock; progress.cpp decides whether a terminal gets one.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "models/trainer.hpp"

namespace latf::cli {

// "3.2 s" below a minute, then "4m05s", then "2h07m": the precision a waiting person reads.
inline std::string format_eta(double seconds) {
  char text[32];
  if (!(seconds >= 0)) seconds = 0;  // NaN (no step timed yet) reads as 0
  if (seconds < 59.95) {
    std::snprintf(text, sizeof text, "%.1f s", seconds);
  } else if (seconds < 3600) {
    const long s = static_cast<long>(seconds + 0.5);
    std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  } else {
    const long m = static_cast<long>(seconds / 60 + 0.5);
    std::snprintf(text, sizeof text, "%ldh%02ldm", m / 60, m % 60);
  }
  return text;
}

// One bar line (no '\r'). The bar and the percentage round down, so neither shows complete
// before the last step; ETA = time per step so far × steps left in this epoch.
inline std::string format_progress(const models::StepProgress& p, int bar_width = 20) {
  const std::int64_t total = p.steps_in_epoch > 0 ? p.steps_in_epoch : 1;
  const std::int64_t done = std::min(std::max<std::int64_t>(p.step, 0), total);
  const auto filled = static_cast<int>(done * bar_width / total);
  const double eta = done > 0 ? p.seconds / static_cast<double>(done) * static_cast<double>(total - done) : 0.0;
  char head[64];
  std::snprintf(head, sizeof head, "%-5s round %d epoch %d ", models::phase_name(p.phase), p.round, p.epoch);
  char tail[96];
  std::snprintf(tail, sizeof tail, " %d%%  %lld/%lld steps  ETA ", static_cast<int>(done * 100 / total),
                static_cast<long long>(done), static_cast<long long>(total));
  return std::string(head) + "[" + std::string(filled, '#') + std::string(bar_width - filled, '.') + "]" + tail +
         format_eta(eta);
}

// Redraws the line at most once per `min_interval` seconds of `clock` (a terminal redrawn at
// every step of a fast CPU epoch would cost more than the step), and always at an epoch's last
// step so that the bar ends full while validation runs. clear() blanks the line before other
// output; the destructor clears too, so an error message never lands after a half-drawn bar.
class ProgressBar {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic

  static double steady_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }

  explicit ProgressBar(std::ostream& sink, Clock clock = steady_seconds, double min_interval = 0.1)
      : sink_(sink), clock_(std::move(clock)), min_interval_(min_interval) {}
  ~ProgressBar() { clear(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(const models::StepProgress& p) {
    const double now = clock_();
    const bool last = p.step >= p.steps_in_epoch;
    if (drawn_ > 0 && !last && now - last_draw_ < min_interval_) return;
    const std::string line = format_progress(p);
    // Spaces cover the end of a longer previous line (e.g. "ETA 10.0 s" → "ETA 9.9 s").
    const std::size_t pad = drawn_ > line.size() ? drawn_ - line.size() : 0;
    sink_ << '\r' << line << std::string(pad, ' ') << std::flush;
    drawn_ = line.size() + pad;
    last_draw_ = now;
  }

  void clear() {
    if (drawn_ == 0) return;
    sink_ << '\r' << std::string(drawn_, ' ') << '\r' << std::flush;
    drawn_ = 0;
  }

 private:
  std::ostream& sink_;
  Clock clock_;
  double min_interval_;
  double last_draw_ = 0;
  std::size_t drawn_ = 0;  // columns written on the line since it was last cleared; 0: none
};

// A bar on std::cerr when wanted, else null: never with `quiet`; with `forced` (--progress)
// always; otherwise only when stderr is a terminal, so that logs and captured output stay clean.
std::unique_ptr<ProgressBar> stderr_progress_bar(bool quiet, bool forced);

// Feeds `bar` (may be null: then the trainer gets no callback) from the steps of a Trainer or a
// StackedTrainer.
template <class AnyTrainer>
void show_progress(AnyTrainer& trainer, ProgressBar* bar) {
  if (bar == nullptr) return;
  trainer.set_step_callback([bar](const models::StepProgress& p) { bar->update(p); });
}

}  // namespace latf::cli
