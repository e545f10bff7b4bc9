#pragma once
// Grid search of `latf train`: keys of the --config file given as TOML arrays span a grid, the
// cartesian product of their values, trained one combination after another, each into its own
// folder RUN_DIR/<k>_<key>=<value>_..., with a summary of all of them (apps/cli/README.md).
//
// The expansion (combinations and their folder names) is inline so that tests/test_cli_grid.cpp
// can check it without the latf executable's sources.
#include <charconv>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/config.hpp"

namespace latf::cli {

class StagedDirectory;

// One list-valued key of the --config file.
struct GridAxis {
  std::string key;                                            // as in config.json, tables dotted: "spib.beta"
  std::vector<nlohmann::ordered_json> values;                 // as written in the file
  std::vector<std::string> where;                             // per value, for errors: "--config F: lag[1] (line 3)"
  std::vector<std::function<void(models::LatfConfig&)>> set;  // set[i] writes values[i] into a configuration
};

// One combination: the index of the value taken on each axis, and its folder under RUN_DIR.
struct GridPoint {
  std::vector<std::size_t> choice;
  std::string folder;
};

// A value as it appears in folder names and the summary: numbers in their shortest round-trip
// form, printf's %g style (1e-4 → "0.0001", 1e-5 → "1e-05"), strings unquoted, booleans as
// true/false.
inline std::string grid_value_text(const nlohmann::ordered_json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_float()) {
    char buffer[64];
    const double number = value.get<double>();
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, number, std::chars_format::general).ptr;
    return std::string(buffer, end);
  }
  return value.dump();
}

// Keeps folder names portable: anything but letters, digits and . + - becomes '_'.
inline std::string filesystem_safe(std::string text) {
  for (char& c : text) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '+' || c == '-';
    if (!keep) c = '_';
  }
  return text;
}

// Every combination, the first axis varying slowest (nested loops in the order of the file).
// Folder k is "<k>_<key>=<value>_<key>=<value>..." with k zero-padded to a common width, so that
// folders list in run order; k alone keeps names unique, so a name cut to the file-name limit
// stays usable.
inline std::vector<GridPoint> expand_grid(const std::vector<GridAxis>& axes) {
  std::size_t count = 1;
  for (const GridAxis& axis : axes) count *= axis.values.size();
  const std::size_t width = std::to_string(count > 0 ? count - 1 : 0).size();
  std::vector<GridPoint> points(count);
  for (std::size_t k = 0; k < count; ++k) {
    GridPoint& p = points[k];
    p.choice.resize(axes.size());
    std::size_t rest = k;
    for (std::size_t a = axes.size(); a-- > 0;) {
      p.choice[a] = rest % axes[a].values.size();
      rest /= axes[a].values.size();
    }
    const std::string index = std::to_string(k);
    p.folder = std::string(width - index.size(), '0') + index;
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const std::string value = grid_value_text(axes[a].values[p.choice[a]]);
      p.folder += "_" + filesystem_safe(axes[a].key) + "=" + filesystem_safe(value);
    }
    constexpr std::size_t kMaxName = 200;  // below the usual 255-byte limit, leaving room for ".failed"
    if (p.folder.size() > kMaxName) p.folder.resize(kMaxName);
  }
  return points;
}

// How one training run ended, as the grid's summary reports it.
struct RunResult {
  bool ok = false;
  bool diverged = false;  // the loss turned NaN/Inf
  bool partial = false;   // failed after ≥ 1 epoch: the folder holds the last good checkpoint, history, config
  std::exception_ptr error;  // when !ok
  double train_loss = std::numeric_limits<double>::quiet_NaN();       // total, last completed epoch
  double validation_loss = std::numeric_limits<double>::quiet_NaN();
  int states = 0, epochs = 0;
  double seconds = 0;  // wall time of the whole run
};

// Trains `config` into the existing directory `folder`.
using RunOne = std::function<RunResult(const models::LatfConfig& config, const std::filesystem::path& folder)>;

// The configuration of each combination (base, then its values), every value and combination
// checked with models::validate first: a bad one is a UsageError naming the key and element (or
// the combination), thrown before anything runs.
std::vector<models::LatfConfig> grid_configurations(const models::LatfConfig& base, const std::vector<GridAxis>& axes,
                                                    const std::vector<GridPoint>& points);

// Runs every combination in order into out/<folder> (out/<folder>.failed when a run failed after
// an epoch; nothing for one that failed earlier); a failure does not stop the others. Then writes
// out/grid.json and out/summary.tsv, prints the summary table and commits `out`. Returns the
// number of failed combinations.
int run_grid(const std::vector<GridAxis>& axes, const std::vector<GridPoint>& points,
             const std::vector<models::LatfConfig>& configs, StagedDirectory& out, const RunOne& run, bool quiet);

}  // namespace latf::cli
