#include "models/analysis/statistics.hpp"

#include <cmath>
#include <limits>

#include "engine/error.hpp"

namespace latf::analysis::detail {

void check_weights(const std::vector<float>* weights, std::size_t n, const char* operand) {
  if (!weights) return;
  LATF_REQUIRE(weights->size() == n, operand, ": expected ", n, " weights (one per sample), got ", weights->size());
  for (std::size_t i = 0; i < n; ++i) {
    const float w = (*weights)[i];
    LATF_REQUIRE(std::isfinite(w) && w >= 0.f, operand, ": expected finite weights >= 0, got ", w, " at index ", i);
  }
}

void check_blocks(int blocks, std::size_t n, const char* samples_operand) {
  LATF_REQUIRE(blocks >= 2, "blocks: expected >= 2 (an error bar needs two blocks), got ", blocks);
  LATF_REQUIRE(n >= static_cast<std::size_t>(blocks), "blocks: ", blocks, " blocks need at least as many samples, but ",
               samples_operand, " has ", n);
}

void check_finite(const std::vector<float>& values, const char* operand) {
  for (std::size_t i = 0; i < values.size(); ++i)
    LATF_REQUIRE(std::isfinite(values[i]), operand, ": expected finite values, got ", values[i], " at index ", i);
}

namespace {

// Weighted histogram of category[begin, end) normalised to fractions; false if its weight is 0.
bool fractions_of_range(const std::vector<int>& category, const std::vector<float>* weights, std::size_t begin,
                        std::size_t end, std::vector<double>& fractions, double& total) {
  std::fill(fractions.begin(), fractions.end(), 0.0);
  total = 0.0;
  for (std::size_t i = begin; i < end; ++i) {
    if (category[i] < 0) continue;
    const double w = weight_of(weights, i);
    fractions[category[i]] += w;
    total += w;
  }
  if (total <= 0.0) return false;
  for (double& f : fractions) f /= total;
  return true;
}

}  // namespace

BlockedFractions blocked_fractions(const std::vector<int>& category, int num_categories,
                                   const std::vector<float>* weights, int blocks) {
  const std::size_t n = category.size(), k = static_cast<std::size_t>(num_categories);
  BlockedFractions result;
  result.mean.assign(k, 0.0);
  fractions_of_range(category, weights, 0, n, result.mean, result.total_weight);

  // Block estimates are few: keep them all and take the variance in two passes.
  std::vector<std::vector<double>> per_block;
  std::vector<double> fractions(k);
  for (int b = 0; b < blocks; ++b) {
    const std::size_t begin = n * b / blocks, end = n * (b + 1) / blocks;
    double block_total = 0.0;
    if (fractions_of_range(category, weights, begin, end, fractions, block_total)) per_block.push_back(fractions);
  }
  const std::size_t used = per_block.size();
  result.error.assign(k, std::numeric_limits<double>::quiet_NaN());
  if (used < 2) return result;
  for (std::size_t c = 0; c < k; ++c) {
    double mean = 0.0;
    for (const auto& f : per_block) mean += f[c];
    mean /= static_cast<double>(used);
    double squares = 0.0;
    for (const auto& f : per_block) squares += (f[c] - mean) * (f[c] - mean);
    result.error[c] = std::sqrt(squares / static_cast<double>(used - 1) / static_cast<double>(used));
  }
  return result;
}

}  // namespace latf::analysis::detail
