// count_generated_states: prior draws → G → decoder → state counts on the model's device, in
// batches whose size does not change the result.
#include <numeric>

#include "engine/random.hpp"
#include "engine/random_fill.hpp"
#include "models/inference.hpp"
#include "tests/streaming_support.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using testing::streaming_model;

std::vector<std::int64_t> counts_of(const std::vector<std::int64_t>& labels, int k) {
  std::vector<std::int64_t> counts(k, 0);
  for (std::int64_t l : labels) ++counts[l];
  return counts;
}

TEST(InferenceStreaming, CountsSumToNAndDoNotDependOnTheChunk) {
  const auto model = streaming_model(Device::cpu());
  const std::int64_t n = 20011;  // not a multiple of any chunk below
  const auto whole = models::count_generated_states(model, 2.5, n, 7);
  ASSERT_EQ(whole.counts.size(), 4u);
  EXPECT_EQ(std::accumulate(whole.counts.begin(), whole.counts.end(), std::int64_t{0}), n);
  EXPECT_EQ(whole.samples, n);
  EXPECT_EQ(whole.temperature, 2.5);
  int visited = 0;
  for (auto c : whole.counts) visited += c > 0;
  EXPECT_GE(visited, 2) << "the test model should split its samples among states";
  EXPECT_EQ(models::count_generated_states(model, 2.5, n, 7, 1000).counts, whole.counts);
  EXPECT_EQ(models::count_generated_states(model, 2.5, n, 7, 777).counts, whole.counts);
  EXPECT_EQ(models::count_generated_states(model, 2.5, n, 7, 1).counts.size(), 4u);
  EXPECT_NE(models::count_generated_states(model, 2.5, n, 8).counts, whole.counts) << "the seed must matter";
}

TEST(InferenceStreaming, SingleRowChunksGiveTheSameCounts) {
  const auto model = streaming_model(Device::cpu());
  EXPECT_EQ(models::count_generated_states(model, 1.0, 300, 3, 1).counts,
            models::count_generated_states(model, 1.0, 300, 3).counts);
}

// 70000 draws cross sample_latent's internal batch of 65536, so this also pins that its draws
// are numbered globally, as count_generated_states numbers them.
TEST(InferenceStreaming, AgreesWithSampleLatentAndDecodeStates) {
  const auto model = streaming_model(Device::cpu());
  const std::int64_t n = 70000;
  const auto labels = models::decode_states(model, models::sample_latent(model, 1.7, n, 21));
  EXPECT_EQ(models::count_generated_states(model, 1.7, n, 21, 4096).counts, counts_of(labels, 4));
}

TEST(InferenceStreaming, GeneratedPopulationsAreBlockCounts) {
  const auto model = streaming_model(Device::cpu());
  const auto estimate = models::generated_populations(model, 2.0, 3000, 3, 5);
  std::vector<double> mean(4, 0.0);
  for (int b = 0; b < 3; ++b) {
    const auto block = models::count_generated_states(model, 2.0, 3000, 5 + 7919 * b);
    for (int j = 0; j < 4; ++j) mean[j] += block.counts[j] / 3000.0 / 3;
  }
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(estimate.mean[j], mean[j], 1e-12) << "state " << j;
}

TEST(InferenceStreaming, BadInputIsNamed) {
  const auto model = streaming_model(Device::cpu());
  testing::expect_invalid_argument([&] { models::count_generated_states(model, 1.0, 0, 1); }, "sample count");
  testing::expect_invalid_argument([&] { models::count_generated_states(model, 1.0, -5, 1); }, "sample count");
  testing::expect_invalid_argument([&] { models::count_generated_states(model, 0.0, 10, 1); }, "temperature");
  testing::expect_invalid_argument([&] { models::count_generated_states(model, -1.0, 10, 1); }, "temperature");
  testing::expect_invalid_argument([&] { models::count_generated_states(model, NAN, 10, 1); }, "temperature");
  testing::expect_invalid_argument([&] { models::count_generated_states(model, 1.0, 10, 1, 0); }, "chunk");
}

// Huge coupling weights make the unbounded exp scale overflow: the non-finite samples are
// reported, not counted into a state (the decoder would squash −inf into finite logits).
TEST(InferenceStreaming, NonFiniteFlowOutputIsReported) {
  const auto model = streaming_model(Device::cpu(), 60.0);
  testing::expect_invalid_argument([&] { models::count_generated_states(model, 50.0, 2000, 1, 300); }, "non-finite latent points");
}

}  // namespace
}  // namespace latf
