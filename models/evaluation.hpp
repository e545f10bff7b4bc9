#pragma once
// Scores of a trained model on its data (METHOD.md §8).
#include "models/analysis/gmrq.hpp"
#include "models/dataset.hpp"

namespace latf::models {

// GMRQ of the Markov model on the dataset's current state labels at the dataset's lag. Each
// trajectory is split in time: its first (1 − validation_fraction) of frames trains the
// eigenvectors, the rest scores them (a split in time keeps the two sets' pairs apart; the
// pair-level random split used in training would leak frames between them). rank ≤ 0 means
// all states.
analysis::GmrqResult state_gmrq(const Dataset& dataset, double validation_fraction = 0.2, int rank = 0);

}  // namespace latf::models
