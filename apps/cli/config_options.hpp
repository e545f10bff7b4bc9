#pragma once
// Every LatfConfig field as a command-line flag (names in apps/cli/README.md), and the resolved
// configuration as JSON (the same keys as the checkpoint header's "config").
#include <nlohmann/json.hpp>

#include "models/config.hpp"

namespace CLI {
class App;
}

namespace latf::cli {

struct ConfigFlags {
  models::LatfConfig config;
  std::string encoder = "linear";
};

// Registers the flags on `command`; they write into `flags` during parsing.
void add_config_flags(CLI::App& command, ConfigFlags& flags);
// The finished configuration: encoder name applied, models::validate passed (a failure there is
// a UsageError naming the field).
models::LatfConfig resolve_config(const ConfigFlags& flags);

nlohmann::ordered_json config_to_json(const models::LatfConfig& config);

}  // namespace latf::cli
