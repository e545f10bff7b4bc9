#include "models/inference.hpp"

#include <algorithm>
#include <cmath>

#include "autodiff/ops.hpp"
#include "engine/error.hpp"
#include "kernels/bincount.hpp"
#include "kernels/tilted.hpp"

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

// The prior sampler numbers rows with 32 bits; prior draw g is row g mod 2³² of stream g / 2³²,
// so draw g is the same sample however the draws are batched.
constexpr std::int64_t kRowsPerStream = std::int64_t{1} << 32;

// z [count, d] ← prior draws first … first + count − 1 at reduced temperature T'. Sampler
// failures (a bug) accumulate in `failed` on z's device, to be checked once at the end.
void sample_prior_draws(const LatfModel& model, double reduced, std::uint64_t seed, std::int64_t first, Tensor& z,
                        Tensor& failed) {
  for (std::int64_t done = 0; done < z.dim(0);) {
    const std::int64_t draw = first + done;
    const std::int64_t take = std::min(z.dim(0) - done, kRowsPerStream - draw % kRowsPerStream);
    Tensor part = rows(z, done, take);
    kernels::tilted_sample_rows(part, model.config.flow.tau, reduced, seed, static_cast<std::uint64_t>(draw / kRowsPerStream),
                                static_cast<std::uint64_t>(draw % kRowsPerStream), failed);
    done += take;
  }
}

void require_sampler_succeeded(const Tensor& failed, double reduced) {
  const float count = failed.item();
  if (count > 0)
    throw BackendError(concat("prior sampling at T' = ", reduced, ": ", count, " draw(s) exhausted the radius sampler's ",
                              "proposals; the sampler is broken"));
}

[[noreturn]] void throw_non_finite_flow(double temperature, const std::string& detail) {
  throw InvalidArgument(concat("sampling at T = ", temperature, ": the flow produced non-finite latent points (",
                               detail, "); far outside the training temperatures the unbounded exp scale "
                               "overflows: train with flow.scale_clamp > 0 to bound it"));
}

void require_temperature(double temperature) {
  LATF_REQUIRE(std::isfinite(temperature) && temperature > 0, "temperature: expected > 0, got ", temperature);
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
  require_temperature(temperature);
  LATF_REQUIRE(n >= 0, "sample count: expected ≥ 0, got ", n);
  const double reduced = temperature / model.reference_temperature;
  Tensor out = Tensor::empty({n, model.latent_dim()});
  Tensor failed = Tensor::zeros({1}, model.device());
  try {
    in_chunks(n, [&](Tape& tape, std::int64_t start, std::int64_t count) {
      Tensor z = Tensor::empty({count, model.latent_dim()}, model.device());
      sample_prior_draws(model, reduced, seed, start, z, failed);
      rows(out, start, count).copy_from(tape.value(model.flow->generate(tape, tape.constant(z)).out).to(Device::cpu()));
    });
  } catch (const InvalidArgument& e) {  // check mode caught a non-finite value inside G
    throw_non_finite_flow(temperature, e.what());
  }
  require_sampler_succeeded(failed, reduced);
  return out;
}

StateCounts count_generated_states(const LatfModel& model, double temperature, std::int64_t n, std::uint64_t seed,
                                   std::int64_t chunk) {
  require_temperature(temperature);
  LATF_REQUIRE(n >= 1, "sample count: expected ≥ 1, got ", n);
  LATF_REQUIRE(chunk >= 1, "sample chunk: expected ≥ 1 rows, got ", chunk);
  const Device device = model.device();
  const int k = model.spib->states();
  const double reduced = temperature / model.reference_temperature;
  // On the CPU a batch beyond kChunk rows only costs memory (~1 KB per row of intermediates)
  // and cache misses: 2²⁰ rows ran 1.9× slower than 2¹⁶ in latf_sample_bench.
  const std::int64_t batch = std::min({chunk, n, device.is_cpu() ? kChunk : chunk});
  Tensor z = Tensor::empty({batch, model.latent_dim()}, device);
  Tensor failed = Tensor::zeros({1}, device);
  kernels::Indices counts = kernels::Indices::from_vector(std::vector<std::int64_t>(k, 0), device);
  kernels::Indices non_finite_points = kernels::Indices::from_vector({0}, device);
  kernels::Indices non_finite_logits = kernels::Indices::from_vector({0}, device);
  // argmax_count over u's coordinates serves only to count u's non-finite rows (the decoder can
  // squash an infinite point into finite logits); its per-coordinate counts are discarded.
  kernels::Indices unused = kernels::Indices::empty(model.latent_dim(), device);
  Tape tape;
  autodiff::NoGradGuard no_grad(tape);
  // Check mode would read every op's output back to the host; non-finite rows are instead
  // counted on the device and reported after the loop.
  tape.set_check_finite(false);
  for (std::int64_t start = 0; start < n; start += batch) {
    tape.clear();  // before z is overwritten: the previous batch's values are no longer needed
    Tensor zb = rows(z, 0, std::min(batch, n - start));
    sample_prior_draws(model, reduced, seed, start, zb, failed);
    const Var u = model.flow->generate(tape, tape.constant(zb)).out;
    kernels::argmax_count(tape.value(u), unused, non_finite_points);
    kernels::argmax_count(tape.value(model.spib->decode_logits(tape, u)), counts, non_finite_logits);
  }
  require_sampler_succeeded(failed, reduced);
  const std::int64_t bad = non_finite_points.to_vector()[0];
  if (bad > 0) throw_non_finite_flow(temperature, concat(bad, " of ", n, " samples"));
  const std::int64_t bad_logits = non_finite_logits.to_vector()[0];
  LATF_REQUIRE(bad_logits == 0, "sampling at T = ", temperature, ": the decoder produced non-finite logits for ",
               bad_logits, " of ", n, " finite latent points");
  StateCounts result;
  result.temperature = temperature;
  result.samples = n;
  result.counts = counts.to_vector();
  return result;
}

PopulationEstimate generated_populations(const LatfModel& model, double temperature, std::int64_t samples_per_block,
                                         int blocks, std::uint64_t seed) {
  LATF_REQUIRE(blocks >= 2, "population blocks: expected ≥ 2 for an error bar, got ", blocks);
  LATF_REQUIRE(samples_per_block >= 1, "samples per block: expected ≥ 1, got ", samples_per_block);
  const int k = model.spib->states();
  std::vector<std::vector<double>> fractions(blocks, std::vector<double>(k, 0.0));
  for (int b = 0; b < blocks; ++b) {
    // Each block draws from its own seed, so blocks are independent sample sets.
    const StateCounts block = count_generated_states(model, temperature, samples_per_block, seed + 7919 * b);
    for (int j = 0; j < k; ++j) fractions[b][j] = static_cast<double>(block.counts[j]) / samples_per_block;
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
