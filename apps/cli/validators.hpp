#pragma once
// Option checks with short messages (CLI11's range checks print the whole double range).
#include <cmath>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

namespace latf::cli {

// exclusive: value > bound; else value ≥ bound.
inline CLI::Validator number_above(double bound, bool exclusive) {
  const std::string rule = std::string(exclusive ? "> " : "≥ ") + (std::ostringstream() << bound).str();
  return CLI::Validator(
      [bound, exclusive, rule](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value)) return "'" + text + "' is not a number";
        if (exclusive ? !(value > bound) : !(value >= bound)) return "expected a value " + rule + ", got " + text;
        return {};
      },
      "NUMBER " + rule);
}
inline CLI::Validator positive() { return number_above(0, true); }
inline CLI::Validator non_negative() { return number_above(0, false); }

}  // namespace latf::cli
