// The stacked (M-model, one-launch) batch gather and noise fill (kernels/gather.hpp,
// engine/random_fill.hpp): each model's block equals the single call on that model's operands,
// bit for bit, and the device-resident counters (batch start, noise streams) advance as documented.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "engine/random_fill.hpp"
#include "kernels/gather.hpp"
#include "kernels/permutation.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using kernels::Indices;
using kernels::PairBatch;
using kernels::PairSource;
using kernels::StackedPairSource;

constexpr std::int64_t kFrames = 41, kDescriptors = 3, kLag = 2, kPairs = 29;
constexpr int kStates = 5;

// A split of kPairs pairs over kFrames frames: present frames scattered (not monotone) and below
// kFrames − kLag; weights and factors that differ per frame.
PairSource make_split() {
  PairSource s;
  s.frames = testing::random_tensor({kFrames, kDescriptors}, 7, -3, 3);
  std::vector<float> w, b;
  for (std::int64_t t = 0; t < kFrames; ++t) {
    w.push_back(0.25f + static_cast<float>((t * 7) % 5));
    b.push_back(0.5f + 0.125f * static_cast<float>(t % 3));
  }
  s.weights = Tensor::from_vector(w, {kFrames});
  s.inverse_temperature = Tensor::from_vector(b, {kFrames});
  std::vector<std::int64_t> present;
  for (std::int64_t p = 0; p < kPairs; ++p) present.push_back((p * 13 + 4) % (kFrames - kLag));
  s.present = Indices::from_vector(present);
  s.lag = kLag;
  s.states = kStates;
  return s;
}

// Model m's labels: a different stride and offset per model, in [0, kStates).
std::vector<std::int64_t> model_labels(int m) {
  std::vector<std::int64_t> labels;
  for (std::int64_t t = 0; t < kFrames; ++t) labels.push_back((t * (m + 2) + m) % kStates);
  return labels;
}

enum class Orders { None, Shuffled, Mixed };  // Mixed: model 1 reads in order, the others shuffle

struct Stack {
  StackedPairSource source;
  std::vector<Indices> labels, orders;  // per model, for the single calls (orders[m] undefined: in order)
};

Stack make_stack(int models, Orders orders) {
  Stack s;
  s.source.split = make_split();
  s.source.labels = Indices::empty(models * kFrames);
  if (orders != Orders::None) s.source.orders = Indices::empty(models * kPairs);
  for (int m = 0; m < models; ++m) {
    s.labels.push_back(Indices::from_vector(model_labels(m)));
    kernels::stack_indices(s.source.labels, m, s.labels.back());
    Indices order;
    if (orders == Orders::Shuffled || (orders == Orders::Mixed && m != 1)) {
      order = Indices::empty(kPairs);
      kernels::permutation(order, 100 + m, 10'000 + m);
      kernels::stack_indices(s.source.orders, m, order);
    } else if (orders == Orders::Mixed) {
      kernels::stack_identity(s.source.orders, m, kPairs);
    }
    s.orders.push_back(order);
  }
  return s;
}

PairBatch stacked_batch(int models, std::int64_t rows) {
  return {Tensor::full({models, rows, kDescriptors}, -9), Tensor::full({models, rows, kStates}, -9),
          Tensor::full({models, rows}, -9), Tensor::full({models, rows}, -9)};
}

Tensor slice(const Tensor& stacked, int m) {
  const std::int64_t per = stacked.numel() / stacked.dim(0);
  const Shape single = stacked.rank() == 3 ? Shape{stacked.dim(1), stacked.dim(2)} : Shape{stacked.dim(1)};
  return stacked.view(m * per, single);
}

// Every model's block equals gather_pairs on that model's labels and order, bit for bit.
void expect_equals_single_calls(const Stack& s, std::int64_t start, const PairBatch& batch) {
  const int models = static_cast<int>(batch.inputs.dim(0));
  const std::int64_t rows = batch.inputs.dim(1);
  for (int m = 0; m < models; ++m) {
    PairSource single = s.source.split;
    single.labels = s.labels[m];
    PairBatch expected;
    kernels::resize_pair_batch(single, rows, expected);
    kernels::gather_pairs(single, s.orders[m], start, expected);
    EXPECT_EQ(testing::float_bits(slice(batch.inputs, m)), testing::float_bits(expected.inputs)) << "model " << m;
    EXPECT_EQ(testing::float_bits(slice(batch.targets, m)), testing::float_bits(expected.targets)) << "model " << m;
    EXPECT_EQ(testing::float_bits(slice(batch.weights, m)), testing::float_bits(expected.weights)) << "model " << m;
    EXPECT_EQ(testing::float_bits(slice(batch.inverse_temperature, m)),
              testing::float_bits(expected.inverse_temperature))
        << "model " << m;
  }
}

struct GatherCase {
  int models;
  Orders orders;
  std::int64_t start, rows;
  std::string name;
};

class StackedGather : public ::testing::TestWithParam<GatherCase> {};

TEST_P(StackedGather, EqualsOneSingleCallPerModel) {
  const GatherCase& c = GetParam();
  const Stack s = make_stack(c.models, c.orders);
  PairBatch batch = stacked_batch(c.models, c.rows);
  kernels::gather_pairs_stacked(s.source, Indices::from_vector({c.start}), batch);
  expect_equals_single_calls(s, c.start, batch);
}

// An independent check of one case: the target of model m's row is its own label of the future frame.
TEST(StackedGatherReference, TargetsFollowEachModelsOwnLabels) {
  const Stack s = make_stack(3, Orders::Shuffled);
  PairBatch batch = stacked_batch(3, 6);
  kernels::gather_pairs_stacked(s.source, Indices::from_vector({4}), batch);
  const auto present = s.source.split.present.to_vector();
  const auto targets = batch.targets.to_double_vector(), weights = batch.weights.to_double_vector();
  const auto frame_weights = s.source.split.weights.to_double_vector();
  for (int m = 0; m < 3; ++m) {
    const auto order = s.orders[m].to_vector();
    const auto labels = model_labels(m);
    for (std::int64_t r = 0; r < 6; ++r) {
      const std::int64_t t = present[order[4 + r]];
      for (int k = 0; k < kStates; ++k)
        EXPECT_EQ(targets[(m * 6 + r) * kStates + k], labels[t + kLag] == k ? 1.0 : 0.0) << m << ", " << r;
      EXPECT_EQ(weights[m * 6 + r], frame_weights[t]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, StackedGather,
    ::testing::Values(GatherCase{1, Orders::None, 0, 8, "one_model_in_order"},
                      GatherCase{1, Orders::Shuffled, 8, 8, "one_model_shuffled"},
                      GatherCase{3, Orders::None, 8, 8, "three_models_in_order"},
                      GatherCase{3, Orders::Shuffled, 0, 8, "three_models_shuffled_first_batch"},
                      GatherCase{3, Orders::Shuffled, 24, 5, "three_models_shuffled_last_partial_batch"},
                      GatherCase{3, Orders::Mixed, 16, 8, "three_models_one_in_order"},
                      GatherCase{3, Orders::Mixed, 28, 1, "three_models_single_row"},
                      GatherCase{3, Orders::Shuffled, 0, kPairs, "three_models_whole_split"},
                      GatherCase{3, Orders::Shuffled, 29, 0, "three_models_no_rows"}),
    [](const ::testing::TestParamInfo<GatherCase>& info) { return info.param.name; });

// A whole epoch driven by the device counter: batches 0, B, 2B, … then the partial one, and the
// counter back at 0 for the next epoch.
TEST(StackedGatherCounter, WalksAnEpochAndWrapsToZero) {
  const Stack s = make_stack(3, Orders::Shuffled);
  constexpr std::int64_t kBatch = 8;
  Indices start = Indices::from_vector({0});
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (std::int64_t expected = 0; expected < kPairs; expected += kBatch) {
      ASSERT_EQ(start.to_vector(), std::vector<std::int64_t>{expected});
      const std::int64_t rows = std::min(kBatch, kPairs - expected);
      PairBatch batch = stacked_batch(3, rows);
      kernels::gather_pairs_stacked(s.source, start, batch);
      expect_equals_single_calls(s, expected, batch);
      kernels::advance_position(start, kBatch, kPairs);
    }
    EXPECT_EQ(start.to_vector(), std::vector<std::int64_t>{0}) << "epoch " << epoch;
  }
}

TEST(StackedGatherCounter, WrapsWhenTheSplitIsAMultipleOfTheBatch) {
  Indices position = Indices::from_vector({16});
  kernels::advance_position(position, 8, 24);
  EXPECT_EQ(position.to_vector(), std::vector<std::int64_t>{0});
  kernels::advance_position(position, 8, 24);
  EXPECT_EQ(position.to_vector(), std::vector<std::int64_t>{8});
}

TEST(StackedGatherCounter, RejectsBadArguments) {
  Indices two = Indices::from_vector({0, 0}), one = Indices::from_vector({0});
  testing::expect_invalid_argument([&] { kernels::advance_position(two, 1, 5); }, "advance_position position");
  testing::expect_invalid_argument([&] { kernels::advance_position(one, -1, 5); }, "advance_position by");
  testing::expect_invalid_argument([&] { kernels::advance_position(one, 1, 0); }, "advance_position wrap");
  Indices none;
  testing::expect_invalid_argument([&] { kernels::advance_position(none, 1, 5); }, "advance_position position");
}

TEST(StackIndices, PlacesBlocksAndIdentity) {
  Indices flat = Indices::from_vector(std::vector<std::int64_t>(9, -1));
  kernels::stack_indices(flat, 2, Indices::from_vector({7, 8, 9}));
  kernels::stack_identity(flat, 0, 3);
  EXPECT_EQ(flat.to_vector(), (std::vector<std::int64_t>{0, 1, 2, -1, -1, -1, 7, 8, 9}));
}

TEST(StackIndices, RejectsBlocksOutsideTheList) {
  Indices flat = Indices::empty(9), part = Indices::from_vector({1, 2, 3}), four = Indices::empty(4);
  testing::expect_invalid_argument([&] { kernels::stack_indices(flat, 3, part); }, "stack_indices model");
  testing::expect_invalid_argument([&] { kernels::stack_indices(flat, -1, part); }, "stack_indices model");
  testing::expect_invalid_argument([&] { kernels::stack_indices(flat, 0, four); }, "stack_indices flat");
  testing::expect_invalid_argument([&] { kernels::stack_indices(flat, 0, Indices()); }, "stack_indices part");
  testing::expect_invalid_argument([&] { kernels::stack_identity(flat, 0, 4); }, "stack_identity flat");
  testing::expect_invalid_argument([&] { kernels::stack_identity(flat, 3, 3); }, "stack_identity model");
}

TEST(StackedGatherBadInput, NamesTheOperand) {
  const Stack s = make_stack(3, Orders::Shuffled);
  const Indices start = Indices::from_vector({0});
  const auto call = [&](StackedPairSource source, PairBatch batch, const Indices& at) {
    kernels::gather_pairs_stacked(source, at, batch);
  };
  const PairBatch good = stacked_batch(3, 8);
  {
    StackedPairSource bad = s.source;
    bad.labels = Indices::empty(kFrames);  // one model's labels for three models
    testing::expect_invalid_argument_all([&] { call(bad, good, start); },
                                         {"gather_pairs_stacked labels", "123", "41"});
  }
  {
    StackedPairSource bad = s.source;
    bad.labels = Indices();
    testing::expect_invalid_argument([&] { call(bad, good, start); }, "gather_pairs_stacked labels");
  }
  {
    StackedPairSource bad = s.source;
    bad.orders = Indices::empty(3 * kPairs - 1);
    testing::expect_invalid_argument_all([&] { call(bad, good, start); }, {"gather_pairs_stacked orders", "87", "86"});
  }
  testing::expect_invalid_argument([&] { call(s.source, good, Indices::from_vector({0, 8})); },
                                   "gather_pairs_stacked step_start");
  testing::expect_invalid_argument([&] { call(s.source, good, Indices()); }, "gather_pairs_stacked step_start");
  testing::expect_invalid_argument_all([&] { call(s.source, good, Indices::from_vector({22})); },
                                       {"gather_pairs_stacked step_start", "[22, 30)"});
  testing::expect_invalid_argument([&] { call(s.source, good, Indices::from_vector({-1})); },
                                   "gather_pairs_stacked step_start");
  {
    PairBatch bad = good;
    bad.inputs = Tensor::empty({8, kDescriptors});  // the single form
    testing::expect_invalid_argument_all([&] { call(s.source, bad, start); },
                                         {"gather_pairs_stacked batch inputs", "stacked"});
  }
  {
    PairBatch bad = good;
    bad.targets = Tensor::empty({3, 8, kStates + 1});
    testing::expect_invalid_argument([&] { call(s.source, bad, start); }, "gather_pairs_stacked batch targets");
  }
  {
    PairBatch bad = good;
    bad.weights = Tensor::empty({2, 8});  // another model count
    testing::expect_invalid_argument([&] { call(s.source, bad, start); }, "gather_pairs_stacked batch weights");
  }
  {
    PairBatch bad = good;
    bad.inverse_temperature = Tensor::empty({3, 8}, Device::cpu(), DType::Float64);
    testing::expect_invalid_argument([&] { call(s.source, bad, start); },
                                     "gather_pairs_stacked batch inverse_temperature");
  }
  {
    StackedPairSource bad = s.source;
    bad.split.weights = Tensor::empty({kFrames - 1});
    testing::expect_invalid_argument([&] { call(bad, good, start); }, "gather weights");
  }
}

// ---- the stacked noise fill ---------------------------------------------------------------

struct FillCase {
  Shape shape;
  DType dtype;
  double mean, stddev;
  std::string name;
};

class StackedFill : public ::testing::TestWithParam<FillCase> {};

TEST_P(StackedFill, EqualsOneSingleFillPerModel) {
  const FillCase& c = GetParam();
  const std::int64_t models = c.shape[0];
  std::vector<std::int64_t> seeds, streams;
  for (std::int64_t m = 0; m < models; ++m) {
    seeds.push_back(static_cast<std::int64_t>(1000 + 17 * m));
    streams.push_back(m == 1 ? static_cast<std::int64_t>((1ull << 41) + 3) : 5 + m);
  }
  Tensor out = Tensor::full(c.shape, -9, Device::cpu(), c.dtype);
  fill_normal_stacked(out, Indices::from_vector(seeds), Indices::from_vector(streams), c.mean, c.stddev);
  const std::int64_t per = out.numel() / models;
  for (std::int64_t m = 0; m < models; ++m) {
    Tensor expected = Tensor::empty({per}, Device::cpu(), c.dtype);
    fill_normal(expected, static_cast<std::uint64_t>(seeds[m]), static_cast<std::uint64_t>(streams[m]), c.mean,
                c.stddev);
    EXPECT_EQ(out.view(m * per, {per}).to_double_vector(), expected.to_double_vector()) << "model " << m;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, StackedFill,
                         ::testing::Values(FillCase{{1, 6, 2}, DType::Float32, 0, 1, "one_model"},
                                           FillCase{{3, 5, 3}, DType::Float32, 0, 1, "three_models_odd_size"},
                                           FillCase{{3, 7}, DType::Float32, 0.5, 2, "shifted_and_scaled"},
                                           FillCase{{3, 1, 1}, DType::Float32, 0, 1, "one_value_per_model"},
                                           FillCase{{3, 4, 3}, DType::Float64, 0, 1, "float64"},
                                           FillCase{{3, 0}, DType::Float32, 0, 1, "empty_models"}),
                         [](const ::testing::TestParamInfo<FillCase>& info) { return info.param.name; });

TEST(StackedFill, ModelsWithEqualSeedAndStreamDrawEqualNoise) {
  Tensor out = Tensor::empty({2, 9});
  fill_normal_stacked(out, Indices::from_vector({4, 4}), Indices::from_vector({7, 7}));
  EXPECT_EQ(out.view(0, {9}).to_vector(), out.view(9, {9}).to_vector());
  fill_normal_stacked(out, Indices::from_vector({4, 4}), Indices::from_vector({7, 8}));
  EXPECT_NE(out.view(0, {9}).to_vector(), out.view(9, {9}).to_vector());
}

TEST(StackedFill, AdvanceStreamsDrawsTheNextStream) {
  const Indices seeds = Indices::from_vector({3, 9, 27});
  Indices streams = Indices::from_vector({0, static_cast<std::int64_t>(1ull << 40), -1});  // -1: stream 2^64 − 1
  advance_streams(streams);
  EXPECT_EQ(streams.to_vector(), (std::vector<std::int64_t>{1, static_cast<std::int64_t>((1ull << 40) + 1), 0}));
  Tensor out = Tensor::empty({3, 10});
  fill_normal_stacked(out, seeds, streams);
  Tensor expected = Tensor::empty({10});
  fill_normal(expected, 9, (1ull << 40) + 1);
  EXPECT_EQ(testing::float_bits(out.view(10, {10})), testing::float_bits(expected));
  advance_streams(streams, 5);
  EXPECT_EQ(streams.to_vector(), (std::vector<std::int64_t>{6, static_cast<std::int64_t>((1ull << 40) + 6), 5}));
}

TEST(StackedFill, RejectsBadInput) {
  const Indices three = Indices::from_vector({1, 2, 3}), two = Indices::from_vector({1, 2});
  Tensor out = Tensor::empty({3, 4});
  testing::expect_invalid_argument_all([&] { fill_normal_stacked(out, two, three); },
                                       {"fill_normal_stacked seeds", "3", "2"});
  testing::expect_invalid_argument([&] { fill_normal_stacked(out, three, two); }, "fill_normal_stacked streams");
  testing::expect_invalid_argument([&] { fill_normal_stacked(out, three, Indices()); }, "fill_normal_stacked streams");
  testing::expect_invalid_argument([&] { fill_normal_stacked(out, three, three, 0, -1); }, "standard deviation");
  Tensor scalar = Tensor::empty(Shape{});
  testing::expect_invalid_argument([&] { fill_normal_stacked(scalar, three, three); }, "fill_normal_stacked output");
  Tensor undefined;
  testing::expect_invalid_argument([&] { fill_normal_stacked(undefined, three, three); }, "fill_normal_stacked output");
  testing::expect_invalid_argument([&] { advance_streams(Indices()); }, "advance_streams streams");
}

}  // namespace
}  // namespace latf
