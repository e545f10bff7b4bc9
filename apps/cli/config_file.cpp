// --config FILE.toml: the hyperparameters of config.json as TOML tables, e.g.
//   lag = 10
//   [flow]
//   layers = 4
//   [joint_phase]
//   max_epochs = [300, 600]   # a list: grid search over its values (apps/cli/grid_search.hpp)
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <type_traits>
#include <utility>

#include "apps/cli/common.hpp"
#include "apps/cli/config_options.hpp"

#if LATF_WITH_TOML
#include <toml++/toml.h>
#endif

namespace latf::cli {

#if LATF_WITH_TOML

namespace {

using models::LatfConfig;
// Checks one TOML value and writes it into the configuration; `where` names key and line.
using Setter = std::function<void(LatfConfig&, const toml::node&, const std::string& where)>;

// An accessor `[](LatfConfig& c) -> auto& { return c.field; }` for one field.
#define LATF_TOML_FIELD(expr) [](LatfConfig & c) -> auto& { return c.expr; }

std::string where_of(const std::string& path, const std::string& key, const toml::node& node) {
  return "--config " + path + ": " + key + " (line " + std::to_string(node.source().begin.line) + ")";
}

template <class Get>
Setter integer(Get get) {
  return [get](LatfConfig& c, const toml::node& node, const std::string& where) {
    using Int = std::remove_reference_t<decltype(get(c))>;
    static_assert(std::is_signed_v<Int> && sizeof(Int) <= sizeof(std::int64_t));
    const auto value = node.value<std::int64_t>();
    if (!node.is_integer() || !value) throw UsageError(where + ": expected an integer");
    // Only what does not fit the field; its allowed range is models::validate's to check.
    if (*value < std::numeric_limits<Int>::min() || *value > std::numeric_limits<Int>::max())
      throw UsageError(where + ": " + std::to_string(*value) + " is out of range");
    get(c) = static_cast<Int>(*value);
  };
}

template <class Get>
Setter real(Get get) {
  return [get](LatfConfig& c, const toml::node& node, const std::string& where) {
    const auto value = node.value<double>();  // integers convert too
    if (!(node.is_floating_point() || node.is_integer()) || !value) throw UsageError(where + ": expected a number");
    get(c) = *value;
  };
}

template <class Get>
Setter boolean(Get get) {
  return [get](LatfConfig& c, const toml::node& node, const std::string& where) {
    if (!node.is_boolean()) throw UsageError(where + ": expected true or false");
    get(c) = *node.value<bool>();
  };
}

template <class Get>
void add_phase(std::map<std::string, Setter>& s, const std::string& table, Get phase) {
  s[table + ".batch_size"] = integer([phase](LatfConfig& c) -> auto& { return phase(c).batch_size; });
  s[table + ".learning_rate"] = real([phase](LatfConfig& c) -> auto& { return phase(c).learning_rate; });
  s[table + ".lr_decay"] = real([phase](LatfConfig& c) -> auto& { return phase(c).lr_decay; });
  s[table + ".tolerance"] = real([phase](LatfConfig& c) -> auto& { return phase(c).tolerance; });
  s[table + ".patience"] = integer([phase](LatfConfig& c) -> auto& { return phase(c).patience; });
  s[table + ".refinements"] = integer([phase](LatfConfig& c) -> auto& { return phase(c).refinements; });
  s[table + ".max_epochs"] = integer([phase](LatfConfig& c) -> auto& { return phase(c).max_epochs; });
}

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> s = [] {
    std::map<std::string, Setter> s;
    s["lag"] = integer(LATF_TOML_FIELD(lag));
    s["reference_temperature"] = real(LATF_TOML_FIELD(reference_temperature));
    s["validation_fraction"] = real(LATF_TOML_FIELD(validation_fraction));
    s["seed"] = [](LatfConfig& c, const toml::node& node, const std::string& where) {
      const auto value = node.value<std::int64_t>();
      if (!node.is_integer() || !value || *value < 0) throw UsageError(where + ": expected an integer ≥ 0");
      c.seed = static_cast<std::uint64_t>(*value);
    };
    s["spib.encoder"] = [](LatfConfig& c, const toml::node& node, const std::string& where) {
      const auto value = node.value<std::string>();
      if (!node.is_string() || (*value != "linear" && *value != "nonlinear"))
        throw UsageError(where + ": expected \"linear\" or \"nonlinear\"");
      c.spib.encoder = *value == "linear" ? models::EncoderKind::Linear : models::EncoderKind::Nonlinear;
    };
    s["spib.latent_dim"] = integer(LATF_TOML_FIELD(spib.latent_dim));
    s["spib.encoder_width"] = integer(LATF_TOML_FIELD(spib.encoder_width));
    s["spib.decoder_width"] = integer(LATF_TOML_FIELD(spib.decoder_width));
    s["spib.input_dependent_variance"] = boolean(LATF_TOML_FIELD(spib.input_dependent_variance));
    s["spib.beta"] = real(LATF_TOML_FIELD(spib.beta));
    s["spib.initial_states"] = integer(LATF_TOML_FIELD(spib.initial_states));
    s["flow.layers"] = integer(LATF_TOML_FIELD(flow.layers));
    s["flow.hidden"] = integer(LATF_TOML_FIELD(flow.hidden));
    s["flow.tau"] = real(LATF_TOML_FIELD(flow.tau));
    s["flow.scale_clamp"] = real(LATF_TOML_FIELD(flow.scale_clamp));
    add_phase(s, "spib_phase", LATF_TOML_FIELD(spib_phase));
    add_phase(s, "joint_phase", LATF_TOML_FIELD(joint_phase));
    return s;
  }();
  return s;
}

// A scalar TOML value as JSON, for grid.json and folder names (the setter has checked its type).
nlohmann::ordered_json json_of(const toml::node& node) {
  if (node.is_integer()) return *node.value<std::int64_t>();
  if (node.is_floating_point()) return *node.value<double>();
  if (node.is_boolean()) return *node.value<bool>();
  if (node.is_string()) return *node.value<std::string>();
  return nullptr;
}

class Reader {
 public:
  Reader(std::string path, std::shared_ptr<const toml::table> root) : path_(std::move(path)), root_(std::move(root)) {}

  void apply(const toml::table& table, const std::string& prefix, LatfConfig& config) {
    for (const auto& [key, node] : table) {
      const std::string name = prefix + std::string(key.str());
      if (const toml::table* inner = node.as_table()) {
        apply(*inner, name + ".", config);
        continue;
      }
      const auto it = setters().find(name);
      if (it == setters().end()) {
        const auto next = setters().lower_bound(name + ".");
        if (node.is_array_of_tables() && next != setters().end() && next->first.starts_with(name + "."))
          throw UsageError(where_of(path_, name, node) + ": expected one table [" + name + "], not [[" + name + "]]");
        throw UsageError(where_of(path_, name, node) + ": unknown key");
      }
      if (const toml::array* list = node.as_array())
        add_axis(name, *list, it->second);
      else
        it->second(config, node, where_of(path_, name, node));
    }
  }

  // The axes in the order of the file (toml++ iterates a table's keys sorted).
  std::vector<GridAxis> axes() {
    std::stable_sort(axes_.begin(), axes_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<GridAxis> result;
    for (auto& [position, axis] : axes_) result.push_back(std::move(axis));
    return result;
  }

 private:
  void add_axis(const std::string& name, const toml::array& list, const Setter& set) {
    if (list.empty()) throw UsageError(where_of(path_, name, list) + ": empty list (give at least one value)");
    GridAxis axis;
    axis.key = name;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const toml::node& element = list[i];
      const std::string where = where_of(path_, name + "[" + std::to_string(i) + "]", element);
      if (element.is_array()) throw UsageError(where + ": nested lists are not allowed");
      LatfConfig scratch;
      set(scratch, element, where);  // the type check of a scalar, now rather than mid-grid
      const nlohmann::ordered_json value = json_of(element);
      for (std::size_t j = 0; j < i; ++j)
        if (axis.values[j] == value)
          throw UsageError(where + ": " + value.dump() + " repeats " + name + "[" + std::to_string(j) + "]");
      axis.values.push_back(value);
      axis.where.push_back(where);
      // The parsed file stays alive as long as the setter may run.
      axis.set.push_back([root = root_, node = &element, set, where](LatfConfig& c) { set(c, *node, where); });
    }
    const auto begin = list.source().begin;
    axes_.emplace_back(std::make_pair(begin.line, begin.column), std::move(axis));
  }

  std::string path_;
  std::shared_ptr<const toml::table> root_;
  std::vector<std::pair<std::pair<std::uint32_t, std::uint32_t>, GridAxis>> axes_;
};

}  // namespace

std::vector<GridAxis> apply_toml_config(const std::string& path, models::LatfConfig& config) {
  auto root = std::make_shared<toml::table>();
  try {
    *root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw UsageError("--config " + path + ": line " + std::to_string(e.source().begin.line) + ": " +
                     std::string(e.description()));
  }
  models::LatfConfig result = config;  // all or nothing
  Reader reader(path, root);
  reader.apply(*root, "", result);
  config = result;
  return reader.axes();
}

#else

std::vector<GridAxis> apply_toml_config(const std::string& path, models::LatfConfig&) {
  throw UsageError("--config " + path + ": this latf was built without toml++ (install libtomlplusplus-dev)");
}

#endif

}  // namespace latf::cli
