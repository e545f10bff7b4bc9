// The seeded per-index permutation that shuffles training epochs on the device
// (kernels/permutation_math.hpp), and the Indices list it writes.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/permutation.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

std::vector<std::int64_t> permuted(std::int64_t n, std::uint64_t seed, std::uint64_t stream) {
  kernels::Indices out = kernels::Indices::empty(n);
  kernels::permutation(out, seed, stream);
  return out.to_vector();
}

class PermutationBijection : public ::testing::TestWithParam<std::int64_t> {};

// Every element of [0, n) appears exactly once.
TEST_P(PermutationBijection, EveryIndexOnce) {
  const std::int64_t n = GetParam();
  for (std::uint64_t seed : {0ull, 1ull, 0xDEADBEEFCAFEull}) {
    const std::vector<std::int64_t> order = permuted(n, seed, 10'000);
    ASSERT_EQ(static_cast<std::int64_t>(order.size()), n);
    std::vector<char> seen(static_cast<std::size_t>(n), 0);
    for (std::int64_t v : order) {
      ASSERT_GE(v, 0);
      ASSERT_LT(v, n);
      ASSERT_FALSE(seen[v]) << "value " << v << " appears twice (n = " << n << ", seed " << seed << ")";
      seen[v] = 1;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, PermutationBijection,
                         ::testing::Values(1, 2, 3, 4, 5, 7, 16, 17, 1000, 4096, 65537, (1 << 20) + 7),
                         [](const auto& info) { return "n" + std::to_string(info.param); });

TEST(Permutation, EmptySetIsFine) {
  EXPECT_TRUE(permuted(0, 3, 4).empty());
}

TEST(Permutation, DeterministicAndSeeded) {
  const std::int64_t n = 1000;
  const auto a = permuted(n, 42, 10'003);
  EXPECT_EQ(a, permuted(n, 42, 10'003));
  EXPECT_NE(a, permuted(n, 43, 10'003)) << "another seed must give another order";
  EXPECT_NE(a, permuted(n, 42, 10'004)) << "another epoch (stream) must give another order";
  std::vector<std::int64_t> identity(n);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(a, identity);
  // A shuffle moves nearly everything: a random permutation keeps 1 fixed point on average.
  std::int64_t fixed = 0;
  for (std::int64_t i = 0; i < n; ++i) fixed += a[i] == i;
  EXPECT_LT(fixed, 10);
}

// The element at position 0 over many (seed) draws is uniform on [0, n): Pearson's chi-square
// with n − 1 = 12 degrees of freedom. 60 000 draws give 4 615 expected per cell. The threshold
// 45 is generous: the 12-dof chi-square exceeds it with probability ≈ 1e-5, while a shuffle
// that favoured one cell by 5 % alone would add ≈ 11.5 and one stuck cell would add ~60 000.
// The seeds are fixed, so the test is deterministic.
TEST(Permutation, FirstPositionIsUniform) {
  constexpr std::int64_t n = 13;
  constexpr int draws = 60'000;
  std::vector<double> count(n, 0.0);
  kernels::Indices out = kernels::Indices::empty(n);
  for (int s = 0; s < draws; ++s) {
    kernels::permutation(out, 7 + static_cast<std::uint64_t>(s), 10'000);
    count[out.data()[0]] += 1;
  }
  const double expected = static_cast<double>(draws) / n;
  double chi2 = 0;
  for (double c : count) chi2 += (c - expected) * (c - expected) / expected;
  EXPECT_LT(chi2, 45.0) << "first-position counts are far from uniform";
}

// Consecutive epochs (streams) with one seed are unrelated orders too: position pairs (0, 1)
// cover the 20 ordered pairs of n = 5 uniformly (19 dof; P(chi2 > 60) ≈ 4e-6).
TEST(Permutation, FirstTwoPositionsAcrossEpochsAreUniform) {
  constexpr std::int64_t n = 5;
  constexpr int draws = 40'000;
  std::vector<double> count(n * n, 0.0);
  kernels::Indices out = kernels::Indices::empty(n);
  for (int e = 0; e < draws; ++e) {
    kernels::permutation(out, 11, 10'000 + static_cast<std::uint64_t>(e));
    count[out.data()[0] * n + out.data()[1]] += 1;
  }
  const double expected = static_cast<double>(draws) / (n * (n - 1));
  double chi2 = 0;
  for (std::int64_t a = 0; a < n; ++a)
    for (std::int64_t b = 0; b < n; ++b) {
      const double c = count[a * n + b];
      if (a == b) {
        EXPECT_EQ(c, 0.0);
      } else {
        chi2 += (c - expected) * (c - expected) / expected;
      }
    }
  EXPECT_LT(chi2, 60.0);
}

// The chunked CPU fill and the per-index function (the GPU's) agree, and the key's domain is the
// smallest power of two holding n, at least 256 (so above 128 a walk averages < 2 passes).
TEST(Permutation, KeyDomainAndPerIndexEvaluation) {
  for (std::uint64_t n : {1ull, 4ull, 5ull, 256ull, 257ull, 1000ull, (1ull << 40) + 3, (1ull << 63) - 1}) {
    const kernels::PermutationKey key = kernels::make_permutation_key(n, 5, 6);
    const double domain = (static_cast<double>(key.high_mask) + 1) * (static_cast<double>(key.low_mask) + 1);
    EXPECT_GE(domain, std::max(256.0, static_cast<double>(n))) << "n = " << n;
    EXPECT_TRUE(n <= 128 || domain < 2.0 * static_cast<double>(n)) << "n = " << n;
  }
  for (std::uint64_t n : {1000ull, 1025ull, 70000ull}) {
    const kernels::PermutationKey key = kernels::make_permutation_key(n, 5, 6);
    const auto order = permuted(static_cast<std::int64_t>(n), 5, 6);
    for (std::uint64_t i = 0; i < n; ++i)
      ASSERT_EQ(order[i], static_cast<std::int64_t>(kernels::permuted_index(key, i))) << "n = " << n << ", i = " << i;
  }
  // Positions of a huge set (no list materialised): distinct and in range.
  const kernels::PermutationKey big = kernels::make_permutation_key((1ull << 40) + 3, 5, 6);
  std::vector<std::uint64_t> sample;
  for (std::uint64_t i = 0; i < 2000; ++i) sample.push_back(kernels::permuted_index(big, i * 977));
  for (std::uint64_t v : sample) EXPECT_LT(v, (1ull << 40) + 3);
  std::sort(sample.begin(), sample.end());
  EXPECT_EQ(std::adjacent_find(sample.begin(), sample.end()), sample.end());
}

// A large set (both parts of the network 8+ bits): over many epochs, the elements at positions
// 0 and 1 fall uniformly into 5 × 5 ranges of [0, n), with no correlation between the two
// (24 dof; P(chi2 > 70) ≈ 2e-6). Evaluated per index, as a GPU thread does.
TEST(Permutation, LargeSetPositionsAreUniformAndUncorrelated) {
  constexpr std::uint64_t n = 100'003;
  constexpr int draws = 30'000, cells = 5;
  std::vector<double> count(cells * cells, 0.0);
  for (int e = 0; e < draws; ++e) {
    const kernels::PermutationKey key = kernels::make_permutation_key(n, 21, 10'000 + static_cast<std::uint64_t>(e));
    const std::uint64_t a = kernels::permuted_index(key, 0), b = kernels::permuted_index(key, 1);
    ASSERT_NE(a, b);
    count[(a * cells / n) * cells + b * cells / n] += 1;
  }
  const double expected = static_cast<double>(draws) / (cells * cells);
  double chi2 = 0;
  for (double c : count) chi2 += (c - expected) * (c - expected) / expected;
  EXPECT_LT(chi2, 70.0);
}

TEST(Indices, RoundTripAndSharing) {
  const std::vector<std::int64_t> values = {5, -1, (1ll << 40) + 1, 0};
  const kernels::Indices a = kernels::Indices::from_vector(values);
  EXPECT_EQ(a.size(), 4);
  EXPECT_EQ(a.to_vector(), values);
  kernels::Indices b = a;  // shares storage
  b.data()[0] = 9;
  EXPECT_EQ(a.to_vector()[0], 9);
  kernels::Indices moved = std::move(b);
  EXPECT_FALSE(b.defined());
  EXPECT_EQ(moved.to_vector()[0], 9);
  EXPECT_TRUE(kernels::Indices::empty(0).defined());
}

TEST(Indices, BadInputIsNamed) {
  testing::expect_invalid_argument([] { kernels::Indices::empty(-2); }, "index list size");
  kernels::Indices none;
  testing::expect_invalid_argument([&] { kernels::permutation(none, 1, 2); }, "permutation output");
}

}  // namespace
}  // namespace latf
