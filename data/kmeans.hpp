#pragma once
// k-means with k-means++ seeding, used to make LaTF's initial state labels when none are given
// (METHOD.md §2). Seeding draws from the engine's Philox generator, so a seed fixes the result on
// every machine; Lloyd iterations are deterministic (ties go to the lower cluster index).
#include <cstdint>
#include <vector>

#include "engine/tensor.hpp"

namespace latf::data {

struct KMeansResult {
  Tensor centers;                     // [K, D] float32 CPU
  std::vector<std::int64_t> labels;   // [N], the nearest center of each point
  double inertia = 0;                 // Σ_i w_i ‖x_i − centers[labels_i]‖² for the returned centers
  int iterations = 0;                 // Lloyd center updates performed
  bool converged = false;             // the last update moved no center by more than the tolerance
  // Inertia after seeding, then after each update: iterations + 1 values, never increasing
  // (up to float rounding), the last equal to `inertia`.
  std::vector<double> inertia_history;
};

// points: [N, D] float32 CPU, finite (|x| ≤ 1e18). 1 ≤ clusters ≤ N. Stops when no center moves farther than
// `tolerance` (Euclidean) in one update, or after max_iterations updates. Optional weights (N
// values, finite, ≥ 0) weight both the seeding (D²·w sampling) and the centers (weighted means);
// at least `clusters` points need a positive weight. A cluster left empty by an update is
// re-seeded at the point farthest from its center (the next farthest for the next empty one).
KMeansResult kmeans(const Tensor& points, int clusters, std::uint64_t seed, int max_iterations = 100,
                    double tolerance = 1e-6, const std::vector<float>* weights = nullptr);

// The Lloyd iterations alone, started from given centers ([K, D] float32 CPU, finite): for warm
// starts, and to test the iteration apart from the random seeding.
KMeansResult kmeans_from(const Tensor& points, const Tensor& initial_centers, int max_iterations = 100,
                         double tolerance = 1e-6, const std::vector<float>* weights = nullptr);

}  // namespace latf::data
