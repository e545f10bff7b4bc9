#include "models/inference.hpp"

#include <algorithm>
#include <cmath>

#include "autodiff/ops.hpp"
#include "engine/error.hpp"
#include "models/prior.hpp"

namespace latf::models {

using autodiff::Tape;
using autodiff::Var;

namespace {

constexpr std::int64_t kChunk = 65536;  // rows per batch: bounded memory, large enough for GPUs

// Calls fn(tape, start, count) for consecutive chunks of n rows on a fresh no-grad tape.
template <class Fn>
void in_chunks(std::int64_t n, Fn&& fn) {
  Tape tape;
  autodiff::NoGradGuard no_grad(tape);
  for (std::int64_t start = 0; start < n; start += kChunk) {
    tape.clear();
    fn(tape, start, std::min(kChunk, n - start));
  }
}

Tensor rows(const Tensor& t, std::int64_t start, std::int64_t count) {
  return t.view(start * t.dim(1), {count, t.dim(1)});
}

}  // namespace

Tensor encode_normalized(const LatfModel& model, const Tensor& inputs) {
  LATF_REQUIRE(inputs.rank() == 2 && inputs.dim(1) == model.spib->shape().inputs, "frames: expected shape [N, ",
               model.spib->shape().inputs, "], got ", inputs.shape().str());
  const int d = model.latent_dim();
  Tensor out = Tensor::empty({inputs.dim(0), d});
  in_chunks(inputs.dim(0), [&](Tape& tape, std::int64_t start, std::int64_t count) {
    Var mean = model.spib->encode_mean(tape, tape.constant(rows(inputs, start, count).to(model.device())));
    rows(out, start, count).copy_from(tape.value(mean).to(Device::cpu()));
  });
  return out;
}

EncodedFrames encode_frames(const LatfModel& model, const Tensor& raw_frames) {
  EncodedFrames result;
  result.latent_mean = encode_normalized(model, model.normalization.apply(raw_frames));
  const std::int64_t n = raw_frames.dim(0);
  const int k = model.spib->states();
  result.state_probabilities = Tensor::empty({n, k});
  result.labels.resize(static_cast<std::size_t>(n));
  in_chunks(n, [&](Tape& tape, std::int64_t start, std::int64_t count) {
    Var u = tape.constant(rows(result.latent_mean, start, count).to(model.device()));
    const std::vector<float> log_q = tape.value(autodiff::log_softmax(tape, model.spib->decode_logits(tape, u))).to_vector();
    float* p = rows(result.state_probabilities, start, count).data<float>();
    for (std::int64_t i = 0; i < count; ++i) {
      const float* row = log_q.data() + i * k;
      for (int j = 0; j < k; ++j) p[i * k + j] = std::exp(row[j]);
      result.labels[start + i] = std::max_element(row, row + k) - row;
    }
  });
  return result;
}

std::vector<std::int64_t> decode_states(const LatfModel& model, const Tensor& latent) {
  LATF_REQUIRE(latent.rank() == 2 && latent.dim(1) == model.latent_dim(), "latent points: expected shape [N, ",
               model.latent_dim(), "], got ", latent.shape().str());
  const int k = model.spib->states();
  std::vector<std::int64_t> labels(static_cast<std::size_t>(latent.dim(0)));
  in_chunks(latent.dim(0), [&](Tape& tape, std::int64_t start, std::int64_t count) {
    Var u = tape.constant(rows(latent, start, count).to(model.device()));
    const std::vector<float> logits = tape.value(model.spib->decode_logits(tape, u)).to_vector();
    for (std::int64_t i = 0; i < count; ++i) {
      const float* row = logits.data() + i * k;
      labels[start + i] = std::max_element(row, row + k) - row;
    }
  });
  return labels;
}

Tensor sample_latent(const LatfModel& model, double temperature, std::int64_t n, std::uint64_t seed) {
  LATF_REQUIRE(std::isfinite(temperature) && temperature > 0, "temperature: expected > 0, got ", temperature);
  const TiltedPrior prior(model.latent_dim(), model.config.flow.tau);
  const double reduced = temperature / model.reference_temperature;
  Tensor out = Tensor::empty({n, model.latent_dim()});
  std::uint64_t stream = 0;
  try {
    in_chunks(n, [&](Tape& tape, std::int64_t start, std::int64_t count) {
      Var z = tape.constant(prior.sample(count, reduced, model.device(), seed, stream++));
      rows(out, start, count).copy_from(tape.value(model.flow->generate(tape, z).out).to(Device::cpu()));
    });
  } catch (const InvalidArgument& e) {  // check mode caught a non-finite value inside G
    throw InvalidArgument(concat("sampling at T = ", temperature, ": the flow produced non-finite latent points (",
                                 e.what(), "); far outside the training temperatures the unbounded exp scale "
                                 "overflows: train with flow.scale_clamp > 0 to bound it"));
  }
  return out;
}

PopulationEstimate generated_populations(const LatfModel& model, double temperature, std::int64_t samples_per_block,
                                         int blocks, std::uint64_t seed) {
  LATF_REQUIRE(blocks >= 2, "population blocks: expected ≥ 2 for an error bar, got ", blocks);
  LATF_REQUIRE(samples_per_block >= 1, "samples per block: expected ≥ 1, got ", samples_per_block);
  const int k = model.spib->states();
  std::vector<std::vector<double>> fractions(blocks, std::vector<double>(k, 0.0));
  for (int b = 0; b < blocks; ++b) {
    // Each block draws from its own seed, so blocks are independent sample sets.
    const auto labels = decode_states(model, sample_latent(model, temperature, samples_per_block, seed + 7919 * b));
    for (std::int64_t l : labels) fractions[b][l] += 1.0 / samples_per_block;
  }
  PopulationEstimate estimate;
  estimate.temperature = temperature;
  estimate.mean.assign(k, 0.0);
  estimate.error.assign(k, 0.0);
  for (int j = 0; j < k; ++j) {
    for (int b = 0; b < blocks; ++b) estimate.mean[j] += fractions[b][j] / blocks;
    double var = 0;
    for (int b = 0; b < blocks; ++b) var += (fractions[b][j] - estimate.mean[j]) * (fractions[b][j] - estimate.mean[j]);
    estimate.error[j] = std::sqrt(var / (blocks - 1) / blocks);
  }
  return estimate;
}

}  // namespace latf::models
