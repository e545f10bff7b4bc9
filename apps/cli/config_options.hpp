#pragma once
// Every LatfConfig field as a command-line flag (names in apps/cli/README.md), an optional TOML
// file with the same fields (--config), and the resolved configuration as JSON (the keys of the
// checkpoint header's "config", which are also the TOML keys).
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/config.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace latf::cli {

struct ConfigFlags {
  models::LatfConfig config;  // what the flags wrote (defaults where not given)
  std::string encoder = "linear";
  std::string config_file;
  // Each flag and how to copy its field: flags given on the command line override the file.
  std::vector<std::pair<CLI::Option*, std::function<void(models::LatfConfig&, const models::LatfConfig&)>>> bindings;
  CLI::Option* encoder_option = nullptr;
};

// Registers --config and the flags on `command`; they write into `flags` during parsing.
void add_config_flags(CLI::App& command, ConfigFlags& flags);
// Defaults, then the --config file, then the flags given; models::validate must pass (its
// failure is a UsageError naming the field).
models::LatfConfig resolve_config(const ConfigFlags& flags);

// Applies the keys of a TOML file to `config`; unknown keys, wrong types and syntax errors are
// UsageErrors naming the file, key and line.
void apply_toml_config(const std::string& path, models::LatfConfig& config);

nlohmann::ordered_json config_to_json(const models::LatfConfig& config);

}  // namespace latf::cli
