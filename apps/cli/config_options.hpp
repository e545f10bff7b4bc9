#pragma once
// Every LatfConfig field as a command-line flag (names in apps/cli/README.md) and an optional TOML
// file with the same fields (--config; the keys of config.json, models::config_to_json), whose
// list-valued keys span a grid search (apps/cli/grid_search.hpp).
#include <functional>
#include <string>
#include <vector>

#include "apps/cli/grid_search.hpp"
#include "models/config.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace latf::cli {

// A flag, the config key it sets, and how to copy its field: flags given on the command line
// override the file.
struct FlagBinding {
  CLI::Option* option = nullptr;
  std::string key;  // as in config.json, tables dotted
  std::function<void(models::LatfConfig&, const models::LatfConfig&)> copy;
};

struct ConfigFlags {
  models::LatfConfig config;  // what the flags wrote (defaults where not given)
  std::string encoder = "linear";
  std::string config_file;
  std::vector<FlagBinding> bindings;
  CLI::Option* encoder_option = nullptr;
};

struct ResolvedConfig {
  models::LatfConfig config;   // defaults, then the file's scalar keys, then the flags given
  std::vector<GridAxis> grid;  // the file's list-valued keys that no flag overrides, in file order
};

// Registers --config and the flags on `command`; they write into `flags` during parsing.
void add_config_flags(CLI::App& command, ConfigFlags& flags);
// Defaults, then the --config file, then the flags given (a flag replaces a list of the file);
// models::validate must pass (its failure is a UsageError naming the field).
ResolvedConfig resolve_config(const ConfigFlags& flags);

// Applies the scalar keys of a TOML file to `config` and returns its list-valued keys, each value
// type-checked; unknown keys, wrong types, empty or nested lists and syntax errors are
// UsageErrors naming the file, key (and element) and line.
std::vector<GridAxis> apply_toml_config(const std::string& path, models::LatfConfig& config);

}  // namespace latf::cli
