// `latf plot RUN_DIR`: PNG figures of a run (latent free-energy surfaces, 1-D profiles,
// populations vs temperature, training curves) by scripts/plot_run.py.
#include "apps/cli/plot.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include <CLI/CLI.hpp>

#include "apps/cli/commands.hpp"
#include "apps/cli/common.hpp"

#ifndef LATF_SOURCE_DIR
#define LATF_SOURCE_DIR ""
#endif

extern "C" char** environ;

namespace latf::cli {

namespace {

namespace fs = std::filesystem;

// Runs argv[0] (looked up on PATH when it has no '/') and waits; returns its exit status, or
// −1 when it could not be started or died of a signal. quiet: its stdout and stderr are dropped.
// posix_spawnp, not fork + exec: training may have left worker threads, and after a fork only
// async-signal-safe calls are allowed, so the environment is prepared here in the parent.
int run_process(const std::vector<std::string>& argv, bool quiet) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings = {"MPLBACKEND=Agg"};  // never try to open a display
  for (char** e = environ; *e != nullptr; ++e)
    if (std::string(*e).rfind("MPLBACKEND=", 0) != 0) env_strings.push_back(*e);
  std::vector<char*> env;
  for (auto& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool has_matplotlib(const std::string& python) {
  return run_process({python, "-c", "import numpy, matplotlib"}, true) == 0;
}

// Debian's /usr/bin/python3 first: where pyenv or a virtualenv shadows python3 on PATH, theirs
// often lacks the distribution's numpy/matplotlib (scripts/install_deps.sh installs those).
std::string find_python(const std::string& requested) {
  std::string chosen = requested;
  if (chosen.empty())
    if (const char* env = std::getenv("LATF_PYTHON"); env != nullptr && *env != '\0') chosen = env;
  if (!chosen.empty()) {
    if (!has_matplotlib(chosen))
      throw PlottingUnavailable("plotting: " + chosen + " cannot import numpy and matplotlib (install them for it)");
    return chosen;
  }
  const std::vector<std::string> candidates = {"/usr/bin/python3", "python3", "/usr/local/bin/python3"};
  for (const auto& c : candidates)
    if (has_matplotlib(c)) return c;
  throw PlottingUnavailable(
      "plotting: no Python 3 with numpy and matplotlib found (tried /usr/bin/python3, python3 on PATH, "
      "/usr/local/bin/python3): install python3-matplotlib (scripts/install_deps.sh) or set LATF_PYTHON");
}

// $LATF_PLOT_SCRIPT, else next to the executable (the build copies it there; an installation
// puts it in bin/ or share/latf/), else the source tree the binary was built from.
fs::path find_script() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("LATF_PLOT_SCRIPT"); env != nullptr && *env != '\0') {
    if (!fs::is_regular_file(env)) throw PlottingUnavailable(std::string("plotting: LATF_PLOT_SCRIPT=") + env + " does not exist");
    return env;
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / "plot_run.py");
    candidates.push_back(exe.parent_path().parent_path() / "share" / "latf" / "plot_run.py");
  }
  if (std::string(LATF_SOURCE_DIR).size() > 0) candidates.push_back(fs::path(LATF_SOURCE_DIR) / "scripts" / "plot_run.py");
  std::string tried;
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c)) return c;
    tried += (tried.empty() ? "" : ", ") + c.string();
  }
  throw PlottingUnavailable("plotting: plot_run.py not found (tried " + tried + "; or set LATF_PLOT_SCRIPT)");
}

struct PlotOptions {
  std::string run_dir, out, python;
};

}  // namespace

void render_plots(const fs::path& run_dir, const fs::path& out_dir, const std::string& python) {
  const fs::path script = find_script();
  const std::string interpreter = find_python(python);
  fs::create_directories(out_dir);
  const int code = run_process({interpreter, script.string(), run_dir.string(), "--out", out_dir.string()}, false);
  if (code != 0)
    throw std::runtime_error("plotting: " + script.string() + " failed on " + run_dir.string() +
                             (code < 0 ? " (did not run to the end)" : " (exit code " + std::to_string(code) + ")"));
}

void add_plot_command(CLI::App& app) {
  CLI::App* plot = app.add_subcommand("plot", "PNG figures of a run directory (needs Python 3 with matplotlib)");
  auto o = std::make_shared<PlotOptions>();
  plot->add_option("RUN_DIR", o->run_dir, "Run directory of `latf train` or `latf demo`")
      ->required()->check(CLI::ExistingDirectory);
  plot->add_option("--out", o->out, "Folder of the figures (default RUN_DIR/plots; figures there are replaced)");
  plot->add_option("--python", o->python, "Python interpreter (default: $LATF_PYTHON, else found automatically)");
  plot->callback([o] {
    render_plots(o->run_dir, o->out.empty() ? fs::path(o->run_dir) / "plots" : fs::path(o->out), o->python);
  });
}

}  // namespace latf::cli
