#include "models/evaluation.hpp"

#include <cmath>

#include "engine/error.hpp"

namespace latf::models {

analysis::GmrqResult state_gmrq(const Dataset& dataset, double validation_fraction, int rank) {
  LATF_REQUIRE(validation_fraction > 0 && validation_fraction < 1, "GMRQ validation fraction: expected in (0, 1), got ",
               validation_fraction);
  const auto& offsets = dataset.trajectory_offsets();
  const auto& labels = dataset.frame_labels();
  std::vector<std::vector<std::int64_t>> train, validation;
  for (std::size_t k = 0; k + 1 < offsets.size(); ++k) {
    const std::int64_t begin = offsets[k], end = offsets[k + 1];
    const std::int64_t cut = begin + static_cast<std::int64_t>(std::floor((1 - validation_fraction) * (end - begin)));
    // Segments too short for one lagged pair carry no information; skip them.
    if (cut - begin > dataset.lag()) train.emplace_back(labels.begin() + begin, labels.begin() + cut);
    if (end - cut > dataset.lag()) validation.emplace_back(labels.begin() + cut, labels.begin() + end);
  }
  LATF_REQUIRE(!train.empty() && !validation.empty(), "GMRQ: the trajectories are too short for a lag of ",
               dataset.lag(), " frames in both the training and the validation part");
  return analysis::gmrq(train, validation, dataset.states(), dataset.lag(), rank > 0 ? rank : dataset.states());
}

}  // namespace latf::models
