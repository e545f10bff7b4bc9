#pragma once
// Figures of a run directory, drawn by scripts/plot_run.py (matplotlib) in a Python subprocess.
#include <filesystem>
#include <stdexcept>
#include <string>

namespace latf::cli {

// No Python 3 with numpy and matplotlib, or no plot_run.py: plotting is impossible here (as
// opposed to the script failing on the run directory).
class PlottingUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Renders the PNG figures of `run_dir` into `out_dir` (created; existing figures are replaced).
// `python`: the interpreter to use; empty = $LATF_PYTHON, else the first of /usr/bin/python3,
// python3 on PATH, /usr/local/bin/python3 that imports numpy and matplotlib.
void render_plots(const std::filesystem::path& run_dir, const std::filesystem::path& out_dir,
                  const std::string& python = "");

}  // namespace latf::cli
