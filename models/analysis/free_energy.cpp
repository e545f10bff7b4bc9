#include "models/analysis/free_energy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.hpp"
#include "models/analysis/binning.hpp"
#include "models/analysis/statistics.hpp"

namespace latf::analysis {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

detail::UniformBins checked_bins(int bins, double low, double high, const char* bins_operand,
                                 const char* range_operand) {
  LATF_REQUIRE(bins >= 1 && bins <= 1 << 20, bins_operand, ": expected 1..1048576, got ", bins);
  LATF_REQUIRE(std::isfinite(low) && std::isfinite(high) && low < high, range_operand,
               ": expected finite low < high, got [", low, ", ", high, "]");
  return detail::UniformBins(low, high, bins);
}

struct FreeEnergy {
  std::vector<double> value, error;
};

// F and its error from the bin of each sample (-1: out of range).
FreeEnergy binned_free_energy(const std::vector<int>& bin_of, int num_bins, const std::vector<float>* weights,
                              int blocks, const char* values_operand) {
  const detail::BlockedFractions f = detail::blocked_fractions(bin_of, num_bins, weights, blocks);
  LATF_REQUIRE(f.total_weight > 0.0, values_operand, ": no sample with positive weight falls in the range");
  FreeEnergy out{std::vector<double>(num_bins, kInfinity), std::vector<double>(num_bins, kInfinity)};
  double lowest = kInfinity;
  for (int k = 0; k < num_bins; ++k) {
    if (f.mean[k] <= 0.0) continue;
    out.value[k] = -std::log(f.mean[k]);
    out.error[k] = f.error[k] / f.mean[k];
    lowest = std::min(lowest, out.value[k]);
  }
  for (double& v : out.value) v -= lowest;  // +inf stays +inf
  return out;
}

}  // namespace

Profile free_energy_profile(const std::vector<float>& values, int bins, double low, double high,
                            const std::vector<float>* weights, int blocks) {
  const detail::UniformBins grid = checked_bins(bins, low, high, "bins", "range [low, high]");
  detail::check_finite(values, "values");
  detail::check_weights(weights, values.size(), "weights");
  detail::check_blocks(blocks, values.size(), "values");

  std::vector<int> bin_of(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) bin_of[i] = grid.index(values[i]);
  FreeEnergy f = binned_free_energy(bin_of, bins, weights, blocks, "values");

  Profile profile;
  for (int k = 0; k < bins; ++k) profile.centers.push_back(grid.center(k));
  profile.free_energy = std::move(f.value);
  profile.error = std::move(f.error);
  return profile;
}

Surface free_energy_surface(const std::vector<float>& x, const std::vector<float>& y, int bins_x, int bins_y,
                            const SurfaceRanges& ranges, const std::vector<float>* weights, int blocks) {
  const detail::UniformBins grid_x = checked_bins(bins_x, ranges.x_low, ranges.x_high, "bins_x", "ranges (x)");
  const detail::UniformBins grid_y = checked_bins(bins_y, ranges.y_low, ranges.y_high, "bins_y", "ranges (y)");
  LATF_REQUIRE(static_cast<long long>(bins_x) * bins_y <= 1 << 24, "bins_x * bins_y: expected at most 16777216 bins, got ",
               static_cast<long long>(bins_x) * bins_y);
  LATF_REQUIRE(x.size() == y.size(), "y: expected ", x.size(), " values (as many as x), got ", y.size());
  detail::check_finite(x, "x");
  detail::check_finite(y, "y");
  detail::check_weights(weights, x.size(), "weights");
  detail::check_blocks(blocks, x.size(), "x");

  std::vector<int> bin_of(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const int ix = grid_x.index(x[i]), iy = grid_y.index(y[i]);
    bin_of[i] = ix < 0 || iy < 0 ? -1 : ix * bins_y + iy;
  }
  FreeEnergy f = binned_free_energy(bin_of, bins_x * bins_y, weights, blocks, "x, y");

  Surface surface;
  surface.bins_x = bins_x;
  surface.bins_y = bins_y;
  for (int k = 0; k < bins_x; ++k) surface.centers_x.push_back(grid_x.center(k));
  for (int k = 0; k < bins_y; ++k) surface.centers_y.push_back(grid_y.center(k));
  surface.free_energy = std::move(f.value);
  surface.error = std::move(f.error);
  return surface;
}

}  // namespace latf::analysis
