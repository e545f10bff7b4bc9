#pragma once
// Training that is meant to diverge: what the rollback tests compare against.
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "models/trainer.hpp"

namespace latf::testing {

struct Divergence {
  std::vector<float> spib_at_end, flow_at_end;  // weights after the last completed epoch
  std::string error;                            // the BackendError's message; empty if training finished
};

// Trains to the end or to the first BackendError, recording the weights after every completed epoch.
inline Divergence train_until_divergence(models::Trainer& trainer) {
  Divergence d;
  try {
    trainer.train([&](const models::EpochRecord&) {
      d.spib_at_end = trainer.model().spib->parameters().flat_values().to_vector();
      d.flow_at_end = trainer.model().flow->parameters().flat_values().to_vector();
    });
  } catch (const BackendError& e) {
    d.error = e.what();
  }
  return d;
}

}  // namespace latf::testing
