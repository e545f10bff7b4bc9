#pragma once
// Uniform histogram bins with numpy.histogram's edge rule, shared by the KL divergence and the
// free-energy estimators so that a sample falls in the same bin as it would in the authors'
// numpy code. Internal to latf_analysis.
#include <algorithm>
#include <vector>

namespace latf::analysis::detail {

class UniformBins {
 public:
  // Edges as numpy.linspace(low, high, bins + 1): k * step + low, with the last edge set to high
  // exactly (so rounding never pushes `high` itself outside). Requires low < high, bins >= 1.
  UniformBins(double low, double high, int bins) : edges_(static_cast<std::size_t>(bins) + 1) {
    const double step = (high - low) / bins;
    for (int k = 0; k < bins; ++k) edges_[k] = static_cast<double>(k) * step + low;
    edges_[bins] = high;
  }

  int count() const { return static_cast<int>(edges_.size()) - 1; }
  double center(int k) const { return 0.5 * (edges_[k] + edges_[k + 1]); }

  // Bin k holds [edge_k, edge_{k+1}), except the last, which also holds its right edge (numpy's
  // searchsorted(side='right') rule). Returns -1 for a value outside [low, high].
  int index(double x) const {
    if (x < edges_.front() || x > edges_.back()) return -1;
    if (x == edges_.back()) return count() - 1;
    const auto above = std::upper_bound(edges_.begin(), edges_.end(), x);
    return static_cast<int>(above - edges_.begin()) - 1;
  }

 private:
  std::vector<double> edges_;
};

}  // namespace latf::analysis::detail
