// Device histograms: argmax_count (fused argmax + count over score rows) and bincount (labels),
// against direct counts written here.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/bincount.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

using kernels::Indices;

Indices zero_counts(std::int64_t k) { return Indices::from_vector(std::vector<std::int64_t>(k, 0)); }

// The reference: std::max_element's first maximum per row, in double.
std::vector<std::int64_t> direct_argmax_counts(const Tensor& scores) {
  const std::vector<double> v = scores.to_double_vector();
  const std::int64_t n = scores.dim(0), k = scores.dim(1);
  std::vector<std::int64_t> counts(k, 0);
  for (std::int64_t i = 0; i < n; ++i) ++counts[std::max_element(v.begin() + i * k, v.begin() + (i + 1) * k) - (v.begin() + i * k)];
  return counts;
}

struct CountCase {
  std::int64_t n;
  int k;
  DType dtype;
};

class ArgmaxCount : public ::testing::TestWithParam<CountCase> {};

TEST_P(ArgmaxCount, MatchesDirectCountAndAccumulates) {
  const auto c = GetParam();
  Tensor scores = testing::random_tensor({c.n, c.k}, 31 + c.k, -3, 3, c.dtype);
  // Ties: every third row repeats its first entry in its last column and rounds both to the
  // row's maximum, so first-maximum-wins is exercised.
  if (c.k >= 2) {
    const std::vector<double> v = scores.to_double_vector();
    for (std::int64_t i = 0; i < c.n; i += 3) {
      const double top = *std::max_element(v.begin() + i * c.k, v.begin() + (i + 1) * c.k);
      if (c.dtype == DType::Float32) {
        scores.data<float>()[i * c.k + 1] = scores.data<float>()[i * c.k + c.k - 1] = static_cast<float>(top);
      } else {
        scores.data<double>()[i * c.k + 1] = scores.data<double>()[i * c.k + c.k - 1] = top;
      }
    }
  }
  const auto expected = direct_argmax_counts(scores);
  Indices counts = zero_counts(c.k), non_finite = zero_counts(1);
  kernels::argmax_count(scores, counts, non_finite);
  EXPECT_EQ(counts.to_vector(), expected);
  EXPECT_EQ(non_finite.to_vector()[0], 0);
  kernels::argmax_count(scores, counts, non_finite);  // accumulates
  std::vector<std::int64_t> twice = expected;
  for (auto& x : twice) x *= 2;
  EXPECT_EQ(counts.to_vector(), twice);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ArgmaxCount,
                         ::testing::Values(CountCase{1, 1, DType::Float32}, CountCase{257, 1, DType::Float32},
                                           CountCase{1, 5, DType::Float32}, CountCase{1000, 7, DType::Float32},
                                           CountCase{999, 3, DType::Float64}, CountCase{300, 33, DType::Float64}),
                         [](const ::testing::TestParamInfo<CountCase>& info) {
                           return "n" + std::to_string(info.param.n) + "_K" + std::to_string(info.param.k) + "_" +
                                  dtype_name(info.param.dtype);
                         });

TEST(ArgmaxCountEdges, TiesGoToTheLowestState) {
  const Tensor scores = Tensor::from_vector(std::vector<float>{1, 1, 1, 0, 2, 2, 5, 5, 4}, {3, 3});
  Indices counts = zero_counts(3), none;
  kernels::argmax_count(scores, counts, none);
  EXPECT_EQ(counts.to_vector(), (std::vector<std::int64_t>{2, 1, 0}));
}

TEST(ArgmaxCountEdges, EmptyBatchLeavesCountsUntouched) {
  Indices counts = Indices::from_vector({4, 0, 9}), non_finite = zero_counts(1);
  kernels::argmax_count(Tensor::empty({0, 3}), counts, non_finite);
  EXPECT_EQ(counts.to_vector(), (std::vector<std::int64_t>{4, 0, 9}));
  EXPECT_EQ(non_finite.to_vector()[0], 0);
}

TEST(ArgmaxCountEdges, NonFiniteRowsAreCountedApart) {
  const Tensor scores =
      Tensor::from_vector(std::vector<float>{0, 1, NAN, 2, 0, 0, INFINITY, 0, 3, -INFINITY, 1, 1}, {4, 3});
  Indices counts = zero_counts(3), non_finite = zero_counts(1);
  kernels::argmax_count(scores, counts, non_finite);
  EXPECT_EQ(counts.to_vector(), (std::vector<std::int64_t>{1, 0, 0}));
  EXPECT_EQ(non_finite.to_vector()[0], 3);
  Indices dropped = zero_counts(3), none;
  kernels::argmax_count(scores, dropped, none);
  EXPECT_EQ(dropped.to_vector(), (std::vector<std::int64_t>{1, 0, 0}));
}

TEST(ArgmaxCountEdges, BadOperandsAreNamed) {
  Indices counts = zero_counts(3), non_finite = zero_counts(1), none;
  testing::expect_invalid_argument([&] { kernels::argmax_count(Tensor::zeros({6}), counts, none); }, "scores");
  testing::expect_invalid_argument([&] { kernels::argmax_count(Tensor::zeros({2, 0}), counts, none); }, "scores");
  testing::expect_invalid_argument([&] { kernels::argmax_count(Tensor(), counts, none); }, "scores");
  Indices four = zero_counts(4);
  testing::expect_invalid_argument_all([&] { kernels::argmax_count(Tensor::zeros({2, 3}), four, none); },
                                       {"counts", "3", "4"});
  testing::expect_invalid_argument([&] { kernels::argmax_count(Tensor::zeros({2, 3}), none, none); }, "counts");
  Indices two = zero_counts(2);
  testing::expect_invalid_argument([&] { kernels::argmax_count(Tensor::zeros({2, 3}), counts, two); }, "non_finite");
}

TEST(Bincount, MatchesDirectCountAndAccumulates) {
  std::vector<std::int64_t> labels;
  std::vector<std::int64_t> expected(6, 0);
  for (int i = 0; i < 5003; ++i) {
    const std::int64_t l = (i * 7 + i / 11) % 5;  // state 5 never occurs
    labels.push_back(l);
    ++expected[l];
  }
  Indices counts = Indices::from_vector({1, 0, 0, 0, 0, 2});
  kernels::bincount(Indices::from_vector(labels), counts);
  expected[0] += 1;
  expected[5] += 2;
  EXPECT_EQ(counts.to_vector(), expected);
}

TEST(Bincount, EdgesAndBadLabels) {
  Indices one = zero_counts(1);
  kernels::bincount(Indices::from_vector({0, 0, 0}), one);
  EXPECT_EQ(one.to_vector(), (std::vector<std::int64_t>{3}));
  kernels::bincount(Indices::empty(0), one);
  EXPECT_EQ(one.to_vector(), (std::vector<std::int64_t>{3}));
  Indices counts = zero_counts(3);
  testing::expect_invalid_argument_all([&] { kernels::bincount(Indices::from_vector({0, 3}), counts); },
                                       {"labels", "[0, 3)", "index 1"});
  testing::expect_invalid_argument([&] { kernels::bincount(Indices::from_vector({-1}), counts); }, "labels");
  EXPECT_EQ(counts.to_vector(), (std::vector<std::int64_t>{0, 0, 0})) << "a rejected call must not count";
  Indices empty_counts = Indices::empty(0);
  testing::expect_invalid_argument([&] { kernels::bincount(Indices::from_vector({0}), empty_counts); }, "counts");
}

}  // namespace
}  // namespace latf
