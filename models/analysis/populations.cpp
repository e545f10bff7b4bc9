#include "models/analysis/populations.hpp"

#include "engine/error.hpp"
#include "models/analysis/statistics.hpp"

namespace latf::analysis {

Populations state_populations(const std::vector<std::int64_t>& labels, int num_states,
                              const std::vector<float>* weights, int blocks) {
  LATF_REQUIRE(num_states >= 1, "num_states: expected >= 1, got ", num_states);
  detail::check_weights(weights, labels.size(), "weights");
  detail::check_blocks(blocks, labels.size(), "labels");
  std::vector<int> state(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    LATF_REQUIRE(labels[i] >= 0 && labels[i] < num_states, "labels[", i, "]: expected a state in [0, ", num_states,
                 "), got ", labels[i]);
    state[i] = static_cast<int>(labels[i]);
  }
  detail::BlockedFractions f = detail::blocked_fractions(state, num_states, weights, blocks);
  LATF_REQUIRE(f.total_weight > 0.0, "weights: all zero, so populations are undefined");
  return Populations{std::move(f.mean), std::move(f.error)};
}

}  // namespace latf::analysis
