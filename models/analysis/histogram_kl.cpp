#include "models/analysis/histogram_kl.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.hpp"
#include "models/analysis/binning.hpp"
#include "models/analysis/statistics.hpp"

namespace latf::analysis {
namespace {

std::vector<float> checked_points(const Tensor& samples, const char* operand) {
  require_defined(samples, operand);
  LATF_REQUIRE(samples.device().is_cpu() && samples.dtype() == DType::Float32, operand,
               ": expected a CPU float32 tensor, got ", samples.device().str(), " ", dtype_name(samples.dtype()));
  LATF_REQUIRE(samples.rank() == 2 && samples.dim(1) == 2 && samples.dim(0) >= 1, operand,
               ": expected shape [N, 2] with N >= 1, got ", samples.shape().str());
  std::vector<float> points = samples.to_vector();
  detail::check_finite(points, operand);
  return points;
}

// numpy's outer edges for one axis of p: [min, max], widened by 0.5 each way if min == max.
detail::UniformBins axis_bins(const std::vector<float>& points, int axis, int bins) {
  double low = points[axis], high = points[axis];
  for (std::size_t i = axis; i < points.size(); i += 2) {
    low = std::min<double>(low, points[i]);
    high = std::max<double>(high, points[i]);
  }
  if (low == high) {
    low -= 0.5;
    high += 0.5;
  }
  return detail::UniformBins(low, high, bins);
}

// Row-major bins × bins weighted counts (H[ix, iy] as numpy); points outside are dropped.
std::vector<double> histogram(const std::vector<float>& points, const std::vector<float>* weights,
                              const detail::UniformBins& x_bins, const detail::UniformBins& y_bins) {
  const std::size_t bins = static_cast<std::size_t>(x_bins.count());
  std::vector<double> counts(bins * bins, 0.0);
  for (std::size_t i = 0; i < points.size() / 2; ++i) {
    const int ix = x_bins.index(points[2 * i]), iy = y_bins.index(points[2 * i + 1]);
    if (ix < 0 || iy < 0) continue;
    counts[ix * bins + iy] += detail::weight_of(weights, i);
  }
  return counts;
}

// Adds epsilon to every bin and normalises; the total must be positive.
void smooth_and_normalise(std::vector<double>& counts, double epsilon, const char* operand) {
  double total = 0.0;
  for (double& c : counts) total += (c += epsilon);
  LATF_REQUIRE(total > 0.0, operand, ": no weight falls in p_samples' range and epsilon is 0, so the histogram ",
               "cannot be normalised");
  for (double& c : counts) c /= total;
}

}  // namespace

double histogram_kl_divergence(const Tensor& p_samples, const Tensor& q_samples, int bins, double epsilon,
                               const std::vector<float>* p_weights, const std::vector<float>* q_weights) {
  const std::vector<float> p_points = checked_points(p_samples, "p_samples");
  const std::vector<float> q_points = checked_points(q_samples, "q_samples");
  LATF_REQUIRE(bins >= 1 && bins <= 1 << 14, "bins: expected 1..16384 per axis, got ", bins);
  LATF_REQUIRE(std::isfinite(epsilon) && epsilon >= 0.0, "epsilon: expected a finite value >= 0, got ", epsilon);
  detail::check_weights(p_weights, p_points.size() / 2, "p_weights");
  detail::check_weights(q_weights, q_points.size() / 2, "q_weights");

  const detail::UniformBins x_bins = axis_bins(p_points, 0, bins), y_bins = axis_bins(p_points, 1, bins);
  std::vector<double> p = histogram(p_points, p_weights, x_bins, y_bins);
  std::vector<double> q = histogram(q_points, q_weights, x_bins, y_bins);
  smooth_and_normalise(p, epsilon, "p_samples");
  smooth_and_normalise(q, epsilon, "q_samples");

  double kl = 0.0;
  for (std::size_t k = 0; k < p.size(); ++k) {
    if (p[k] == 0.0) continue;  // 0 log 0 = 0
    if (q[k] == 0.0) return std::numeric_limits<double>::infinity();
    kl += p[k] * std::log(p[k] / q[k]);
  }
  return kl;
}

}  // namespace latf::analysis
