// --config FILE.toml: the hyperparameters of config.json as TOML tables, e.g.
//   lag = 10
//   [flow]
//   layers = 4
//   [joint_phase]
//   max_epochs = 300
#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "apps/cli/common.hpp"
#include "apps/cli/config_options.hpp"

#if LATF_WITH_TOML
#include <toml++/toml.h>
#endif

namespace latf::cli {

#if LATF_WITH_TOML

namespace {

using models::LatfConfig;
using Setter = std::function<void(const toml::node&, const std::string& where)>;

std::string where_of(const std::string& path, const std::string& key, const toml::node& node) {
  return "--config " + path + ": " + key + " (line " + std::to_string(node.source().begin.line) + ")";
}

template <class Int>
Setter integer(Int& field) {
  return [&field](const toml::node& node, const std::string& where) {
    const auto value = node.value<std::int64_t>();
    if (!node.is_integer() || !value) throw UsageError(where + ": expected an integer");
    if (*value < static_cast<std::int64_t>(std::numeric_limits<Int>::min()) ||
        static_cast<std::uint64_t>(*value) > static_cast<std::uint64_t>(std::numeric_limits<Int>::max()))
      throw UsageError(where + ": " + std::to_string(*value) + " is out of range");
    field = static_cast<Int>(*value);
  };
}

Setter real(double& field) {
  return [&field](const toml::node& node, const std::string& where) {
    const auto value = node.value<double>();  // integers convert too
    if (!(node.is_floating_point() || node.is_integer()) || !value) throw UsageError(where + ": expected a number");
    field = *value;
  };
}

Setter boolean(bool& field) {
  return [&field](const toml::node& node, const std::string& where) {
    if (!node.is_boolean()) throw UsageError(where + ": expected true or false");
    field = *node.value<bool>();
  };
}

void add_phase(std::map<std::string, Setter>& s, const std::string& table, models::PhaseConfig& p) {
  s[table + ".batch_size"] = integer(p.batch_size);
  s[table + ".learning_rate"] = real(p.learning_rate);
  s[table + ".lr_decay"] = real(p.lr_decay);
  s[table + ".tolerance"] = real(p.tolerance);
  s[table + ".patience"] = integer(p.patience);
  s[table + ".refinements"] = integer(p.refinements);
  s[table + ".max_epochs"] = integer(p.max_epochs);
}

std::map<std::string, Setter> setters(LatfConfig& c) {
  std::map<std::string, Setter> s;
  s["lag"] = integer(c.lag);
  s["reference_temperature"] = real(c.reference_temperature);
  s["validation_fraction"] = real(c.validation_fraction);
  s["seed"] = [&c](const toml::node& node, const std::string& where) {
    const auto value = node.value<std::int64_t>();
    if (!node.is_integer() || !value || *value < 0) throw UsageError(where + ": expected an integer ≥ 0");
    c.seed = static_cast<std::uint64_t>(*value);
  };
  s["spib.encoder"] = [&c](const toml::node& node, const std::string& where) {
    const auto value = node.value<std::string>();
    if (!node.is_string() || (*value != "linear" && *value != "nonlinear"))
      throw UsageError(where + ": expected \"linear\" or \"nonlinear\"");
    c.spib.encoder = *value == "linear" ? models::EncoderKind::Linear : models::EncoderKind::Nonlinear;
  };
  s["spib.latent_dim"] = integer(c.spib.latent_dim);
  s["spib.encoder_width"] = integer(c.spib.encoder_width);
  s["spib.decoder_width"] = integer(c.spib.decoder_width);
  s["spib.input_dependent_variance"] = boolean(c.spib.input_dependent_variance);
  s["spib.beta"] = real(c.spib.beta);
  s["spib.initial_states"] = integer(c.spib.initial_states);
  s["flow.layers"] = integer(c.flow.layers);
  s["flow.hidden"] = integer(c.flow.hidden);
  s["flow.tau"] = real(c.flow.tau);
  s["flow.scale_clamp"] = real(c.flow.scale_clamp);
  add_phase(s, "spib_phase", c.spib_phase);
  add_phase(s, "joint_phase", c.joint_phase);
  return s;
}

void apply_table(const toml::table& table, const std::string& prefix, const std::string& path,
                 const std::map<std::string, Setter>& set) {
  for (const auto& [key, node] : table) {
    const std::string name = prefix + std::string(key.str());
    if (const toml::table* inner = node.as_table()) {
      apply_table(*inner, name + ".", path, set);
      continue;
    }
    const auto it = set.find(name);
    if (it == set.end()) throw UsageError(where_of(path, name, node) + ": unknown key");
    it->second(node, where_of(path, name, node));
  }
}

}  // namespace

void apply_toml_config(const std::string& path, models::LatfConfig& config) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw UsageError("--config " + path + ": line " + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()));
  }
  models::LatfConfig result = config;  // all or nothing
  apply_table(root, "", path, setters(result));
  config = result;
}

#else

void apply_toml_config(const std::string& path, models::LatfConfig&) {
  throw UsageError("--config " + path + ": this latf was built without toml++ (install libtomlplusplus-dev)");
}

#endif

}  // namespace latf::cli
