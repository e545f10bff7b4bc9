#pragma once
// Free energy along one or two coordinates from (optionally weighted) samples.
//
// Conventions: energies in units of kT, natural log. F_k = −log(P_k) for the weighted fraction P_k
// of the in-range samples that fall in bin k, shifted so that min_k F_k = 0. With uniform bins the
// density is P_k / bin_width, so the choice of density vs. probability only moves the additive
// constant, which the shift fixes anyway. Empty bins get F = +inf.
//
// Binning follows numpy.histogram with range=(low, high): bins [e_k, e_{k+1}), the last bin
// closed; samples outside the range are dropped and the rest normalised among themselves.
//
// Error bars: the samples (in their given order, e.g. a trajectory) are cut into `blocks`
// contiguous blocks; each block gives its own normalised histogram P_k^(b), and the standard
// error of P_k is s_k = sd_b(P_k^(b)) / sqrt(blocks). It is carried to F by the delta method,
// error_k = s_k / P_k. The shift by the minimum is treated as exact (the error is that of F_k
// relative to a fixed reference). Empty bins get error +inf. A block with no in-range weight is
// left out; with fewer than two usable blocks every error is NaN.
#include <vector>

namespace latf::analysis {

struct Profile {
  std::vector<double> centers;      // bin centers
  std::vector<double> free_energy;  // in kT, min 0, +inf where the bin is empty
  std::vector<double> error;        // standard error of free_energy (see above)
};

// values finite; bins >= 1; low < high (finite); weights one per value, finite, >= 0, not all zero
// in range; blocks >= 2 and <= values.size().
Profile free_energy_profile(const std::vector<float>& values, int bins, double low, double high,
                            const std::vector<float>* weights = nullptr, int blocks = 5);

struct SurfaceRanges {
  double x_low, x_high, y_low, y_high;
};

struct Surface {
  int bins_x = 0, bins_y = 0;
  std::vector<double> centers_x, centers_y;
  // Row-major [bins_x, bins_y]: entry ix * bins_y + iy (numpy.histogram2d's H[ix, iy]).
  std::vector<double> free_energy;  // in kT, min 0, +inf where empty
  std::vector<double> error;
};

// x and y of equal length (one point per index); a point counts only if both coordinates are in
// range. Other requirements as free_energy_profile.
Surface free_energy_surface(const std::vector<float>& x, const std::vector<float>& y, int bins_x, int bins_y,
                            const SurfaceRanges& ranges, const std::vector<float>* weights = nullptr,
                            int blocks = 5);

}  // namespace latf::analysis
