#include "apps/cli/outputs.hpp"

#include "data/npy.hpp"

namespace latf::cli {

void write_encoded(const models::EncodedFrames& encoded, const std::string& prefix) {
  data::write_npy(prefix + "latent_mean.npy", encoded.latent_mean);
  data::write_npy(prefix + "state_probabilities.npy", encoded.state_probabilities);
  data::write_npy(prefix + "labels.npy", encoded.labels, {static_cast<std::int64_t>(encoded.labels.size())});
}

void write_samples(const models::LatfModel& model, double temperature, std::int64_t n, std::uint64_t seed,
                   const std::string& prefix) {
  const Tensor latent = models::sample_latent(model, temperature, n, seed);
  const std::vector<std::int64_t> states = models::decode_states(model, latent);
  data::write_npy(prefix + "latent.npy", latent);
  data::write_npy(prefix + "states.npy", states, {static_cast<std::int64_t>(states.size())});
}

nlohmann::ordered_json history_entry(const models::EpochRecord& r) {
  const auto losses = [](const models::LossParts& l) {
    return nlohmann::ordered_json{{"total", l.total}, {"reconstruction", l.reconstruction}, {"prior", l.prior}};
  };
  return {{"phase", models::phase_name(r.phase)},
          {"epoch", r.epoch},
          {"round", r.round},
          {"learning_rate", r.learning_rate},
          {"train", losses(r.train)},
          {"validation", losses(r.validation)},
          {"states", r.states},
          {"populations", r.populations},
          {"population_change", r.population_change},
          {"seconds", r.seconds}};
}

}  // namespace latf::cli
