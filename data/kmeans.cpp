#include "data/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "engine/error.hpp"
#include "engine/random.hpp"

namespace latf::data {

namespace {

// Philox stream reserved for k-means seeding; draw c of a run picks center c.
constexpr std::uint64_t kSeedingStream = 0x6b6d65616e73ull;  // "kmeans"
// Points handled together by the nearest-center search: four 8-wide vectors, enough independent
// work to hide the latency of the compare-and-select chain across centers.
constexpr int kLanes = 32;
// Points per block of the seeding distance pass.
constexpr std::int64_t kBlock = 256;

void check_inputs(const Tensor& points, int clusters, int max_iterations, double tolerance,
                  const std::vector<float>* weights) {
  require_defined(points, "kmeans points");
  LATF_REQUIRE(points.device().is_cpu() && points.dtype() == DType::Float32,
               "kmeans points: expected a float32 CPU tensor, got ", dtype_name(points.dtype()), " on ",
               points.device().str());
  LATF_REQUIRE(points.rank() == 2, "kmeans points: expected shape [N, D], got ", points.shape().str());
  const std::int64_t n = points.dim(0), dims = points.dim(1);
  LATF_REQUIRE(n > 0 && dims > 0, "kmeans points: empty input ", points.shape().str());
  LATF_REQUIRE(clusters >= 1 && clusters <= n, "kmeans clusters: expected 1 ≤ clusters ≤ N = ", n, ", got ",
               clusters);
  LATF_REQUIRE(max_iterations >= 0, "kmeans max_iterations: expected ≥ 0, got ", max_iterations);
  LATF_REQUIRE(tolerance >= 0 && std::isfinite(tolerance), "kmeans tolerance: expected a finite value ≥ 0, got ",
               tolerance);
  // Squared distances are taken in float: beyond 1e18 they would overflow.
  const float* x = points.data<float>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t d = 0; d < dims; ++d)
      LATF_REQUIRE(std::isfinite(x[i * dims + d]) && std::abs(x[i * dims + d]) <= 1e18f, "kmeans points: row ", i,
                   " column ", d, " is ", x[i * dims + d], " (every coordinate must be finite, |x| ≤ 1e18)");
  if (weights == nullptr) return;
  LATF_REQUIRE(static_cast<std::int64_t>(weights->size()) == n, "kmeans weights: expected ", n, " values, got ",
               weights->size());
  std::int64_t positive = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float w = (*weights)[i];
    LATF_REQUIRE(std::isfinite(w) && w >= 0, "kmeans weights: row ", i, " is ", w, " (expected finite and ≥ 0)");
    positive += w > 0;
  }
  LATF_REQUIRE(positive >= clusters, "kmeans weights: only ", positive, " points have a positive weight, fewer than ",
               clusters, " clusters");
}

// The data in two forms: the caller's points (exact arithmetic on centers, sums and inertia is
// done in double on these, relative to `mean`) and a centred float copy transposed to one
// contiguous row per coordinate, which the nearest-center search streams through. Centring
// keeps float distances precise when the data sits far from the origin.
struct Workspace {
  std::int64_t n = 0, dims = 0;
  int clusters = 0;
  const float* points = nullptr;   // [N][D], the caller's tensor
  std::vector<double> mean;        // [D]
  std::int64_t stride = 0;         // N rounded up to a multiple of kLanes
  std::vector<float> coords;       // [D][stride], centred, zero-padded
  std::vector<double> weight;      // [N]; all 1 without weights
  std::vector<double> centers;     // [K][D], centred, the exact state between iterations
  std::vector<std::int32_t> nearest;
  std::vector<double> distance2;   // [N], to the point's own center
  double coordinate(std::int64_t i, std::int64_t d) const { return points[i * dims + d] - mean[d]; }
};

Workspace make_workspace(const Tensor& points, int clusters, const std::vector<float>* weights) {
  Workspace ws;
  ws.n = points.dim(0);
  ws.dims = points.dim(1);
  ws.clusters = clusters;
  ws.points = points.data<float>();
  ws.mean.assign(ws.dims, 0.0);
  for (std::int64_t i = 0; i < ws.n; ++i)
    for (std::int64_t d = 0; d < ws.dims; ++d) ws.mean[d] += ws.points[i * ws.dims + d];
  for (double& m : ws.mean) m /= static_cast<double>(ws.n);
  ws.stride = (ws.n + kLanes - 1) / kLanes * kLanes;
  ws.coords.assign(static_cast<std::size_t>(ws.stride * ws.dims), 0.f);
  for (std::int64_t i = 0; i < ws.n; ++i)
    for (std::int64_t d = 0; d < ws.dims; ++d) ws.coords[d * ws.stride + i] = static_cast<float>(ws.coordinate(i, d));
  if (weights != nullptr) {
    ws.weight.assign(weights->begin(), weights->end());
  } else {
    ws.weight.assign(ws.n, 1.0);
  }
  ws.nearest.assign(ws.n, 0);
  ws.distance2.assign(ws.n, 0.0);
  return ws;
}

double point_distance2(const Workspace& ws, std::int64_t i, const double* center) {
  double sum = 0;
  for (std::int64_t d = 0; d < ws.dims; ++d) {
    const double diff = ws.coordinate(i, d) - center[d];
    sum += diff * diff;
  }
  return sum;
}

void place_center_at_point(Workspace& ws, int c, std::int64_t i) {
  for (std::int64_t d = 0; d < ws.dims; ++d) ws.centers[c * ws.dims + d] = ws.coordinate(i, d);
}

// Index of the first point whose running sum of mass[i] exceeds target (the last point with
// positive mass when rounding leaves the scan short).
std::int64_t pick_by_mass(const std::vector<double>& mass, double target) {
  double running = 0;
  std::int64_t last_positive = -1;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(mass.size()); ++i) {
    if (mass[i] <= 0) continue;
    running += mass[i];
    last_positive = i;
    if (running > target) return i;
  }
  return last_positive;
}

// nearest2[i] = min(nearest2[i], ‖x_i − center‖²) over the float copy, in double: the pass runs
// once per seeded center, so it streams contiguous rows.
void lower_nearest(const Workspace& ws, const double* center, std::vector<double>& nearest2) {
  std::vector<double> acc(static_cast<std::size_t>(std::min<std::int64_t>(ws.n, kBlock)));
  for (std::int64_t start = 0; start < ws.n; start += kBlock) {
    const std::int64_t count = std::min(kBlock, ws.n - start);
    std::fill(acc.begin(), acc.begin() + count, 0.0);
    for (std::int64_t d = 0; d < ws.dims; ++d) {
      const float* xd = &ws.coords[d * ws.stride + start];
      const double cd = center[d];
      for (std::int64_t p = 0; p < count; ++p) acc[p] += (xd[p] - cd) * (xd[p] - cd);
    }
    for (std::int64_t p = 0; p < count; ++p) nearest2[start + p] = std::min(nearest2[start + p], acc[p]);
  }
}

// k-means++: the first center drawn in proportion to weight, each next one in proportion to
// weight × squared distance to the nearest center chosen so far.
void seed_centers(Workspace& ws, std::uint64_t seed) {
  ws.centers.assign(static_cast<std::size_t>(ws.clusters * ws.dims), 0.0);
  std::vector<double> nearest2(ws.n, std::numeric_limits<double>::infinity());
  std::vector<double> mass(ws.weight);
  std::vector<char> chosen(ws.n, 0);
  double total = std::accumulate(mass.begin(), mass.end(), 0.0);
  for (int c = 0; c < ws.clusters; ++c) {
    std::int64_t pick;
    if (total > 0) {
      const double u = rng::uniform_open(rng::random_words(seed, kSeedingStream, c).v[0]);
      pick = pick_by_mass(mass, u * total);
    } else {
      // Every weighted point already coincides with a center (duplicates): take the first
      // unchosen weighted one, so that K = N still gives one point per cluster.
      pick = 0;
      while (chosen[pick] || ws.weight[pick] <= 0) ++pick;
    }
    chosen[pick] = 1;
    place_center_at_point(ws, c, pick);
    if (c + 1 == ws.clusters) break;
    // The sampling distances use the float copy (the exact center, a point, is representable in it).
    std::vector<double> center(ws.dims);
    for (std::int64_t d = 0; d < ws.dims; ++d) center[d] = ws.coords[d * ws.stride + pick];
    lower_nearest(ws, center.data(), nearest2);
    total = 0;
    for (std::int64_t i = 0; i < ws.n; ++i) {
      mass[i] = chosen[i] ? 0.0 : ws.weight[i] * nearest2[i];
      total += mass[i];
    }
  }
}

// Eight floats / int32s as one value (GCC and Clang vector extensions): one AVX register, or two
// SSE/NEON ones. The nearest-center search keeps a group's coordinates, running minima and
// indices in such registers while the centers stream past, which auto-vectorisation of the
// center loop cannot be relied on to do.
typedef float Floats8 __attribute__((vector_size(32)));
typedef std::int32_t Ints8 __attribute__((vector_size(32)));
constexpr int kVectors = kLanes / 8;

// For the kLanes points from `start`: the index of the nearest center (float arithmetic, ties to
// the lower index), for a dimension fixed at compile time.
template <int kDims>
void nearest_in_group(const Workspace& ws, const float* centers, std::int64_t start, std::int32_t* out,
                      std::int64_t valid) {
  Floats8 x[kDims][kVectors];
  for (int d = 0; d < kDims; ++d)
    for (int v = 0; v < kVectors; ++v) std::memcpy(&x[d][v], &ws.coords[d * ws.stride + start + 8 * v], sizeof(Floats8));
  Floats8 best[kVectors];
  Ints8 index[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    best[v] = Floats8{} + std::numeric_limits<float>::infinity();
    index[v] = Ints8{};
  }
  for (int c = 0; c < ws.clusters; ++c) {
    const float* center = centers + c * kDims;
    for (int v = 0; v < kVectors; ++v) {
      Floats8 acc{};
      for (int d = 0; d < kDims; ++d) {
        const Floats8 t = x[d][v] - center[d];
        acc += t * t;
      }
      const Ints8 closer = acc < best[v];
      best[v] = closer ? acc : best[v];
      index[v] = closer ? Ints8{} + c : index[v];
    }
  }
  std::int32_t lanes[kLanes];
  std::memcpy(lanes, index, sizeof(lanes));
  std::copy(lanes, lanes + valid, out);
}

// The same for any dimension, through a per-group accumulator that the compiler vectorises.
void nearest_in_group_any(const Workspace& ws, const float* centers, std::int64_t start, std::int32_t* out,
                          std::int64_t valid) {
  float best[kLanes], acc[kLanes];
  std::int32_t index[kLanes];
  std::fill(best, best + kLanes, std::numeric_limits<float>::infinity());
  std::fill(index, index + kLanes, 0);
  for (int c = 0; c < ws.clusters; ++c) {
    std::fill(acc, acc + kLanes, 0.f);
    for (std::int64_t d = 0; d < ws.dims; ++d) {
      const float cd = centers[c * ws.dims + d];
      const float* xd = &ws.coords[d * ws.stride + start];
      for (int l = 0; l < kLanes; ++l) acc[l] += (xd[l] - cd) * (xd[l] - cd);
    }
    for (int l = 0; l < kLanes; ++l) {
      const bool closer = acc[l] < best[l];
      best[l] = closer ? acc[l] : best[l];
      index[l] = closer ? c : index[l];
    }
  }
  std::copy(index, index + valid, out);
}

using NearestFn = void (*)(const Workspace&, const float*, std::int64_t, std::int32_t*, std::int64_t);

NearestFn nearest_for(std::int64_t dims) {
  switch (dims) {
    case 1: return nearest_in_group<1>;
    case 2: return nearest_in_group<2>;
    case 3: return nearest_in_group<3>;
    case 4: return nearest_in_group<4>;
    case 5: return nearest_in_group<5>;
    case 6: return nearest_in_group<6>;
    case 7: return nearest_in_group<7>;
    case 8: return nearest_in_group<8>;
    default: return nearest_in_group_any;
  }
}

// Labels every point with its nearest center; then, in double on the caller's points, the
// distance to that center and each cluster's weighted coordinate sums. Returns the inertia.
double assign(Workspace& ws, std::vector<double>& sums, std::vector<double>& cluster_weight) {
  const std::int64_t dims = ws.dims;
  const std::vector<float> centers(ws.centers.begin(), ws.centers.end());
  const NearestFn nearest = nearest_for(dims);
  sums.assign(static_cast<std::size_t>(ws.clusters * dims), 0.0);
  cluster_weight.assign(ws.clusters, 0.0);
  double inertia = 0;
  for (std::int64_t start = 0; start < ws.n; start += kLanes)
    nearest(ws, centers.data(), start, &ws.nearest[start], std::min<std::int64_t>(kLanes, ws.n - start));
  for (std::int64_t i = 0; i < ws.n; ++i) {
    const int label = ws.nearest[i];
    const double w = ws.weight[i];
    ws.distance2[i] = point_distance2(ws, i, &ws.centers[label * dims]);
    inertia += w * ws.distance2[i];
    cluster_weight[label] += w;
    for (std::int64_t d = 0; d < dims; ++d) sums[label * dims + d] += w * ws.coordinate(i, d);
  }
  return inertia;
}

// Moves every center to its cluster's weighted mean; empty clusters go to the points farthest
// from their centers. Returns the largest distance a center moved.
double update_centers(Workspace& ws, const std::vector<double>& sums, const std::vector<double>& cluster_weight) {
  const std::int64_t dims = ws.dims;
  std::vector<int> empty;
  double shift2 = 0;
  for (int c = 0; c < ws.clusters; ++c) {
    if (cluster_weight[c] <= 0) {
      empty.push_back(c);
      continue;
    }
    double moved2 = 0;
    for (std::int64_t d = 0; d < dims; ++d) {
      const double next = sums[c * dims + d] / cluster_weight[c];
      moved2 += (next - ws.centers[c * dims + d]) * (next - ws.centers[c * dims + d]);
      ws.centers[c * dims + d] = next;
    }
    shift2 = std::max(shift2, moved2);
  }
  if (empty.empty()) return std::sqrt(shift2);

  // Candidates: weighted points not sitting on their center, farthest first, lower index on ties.
  std::vector<std::int64_t> far;
  for (std::int64_t i = 0; i < ws.n; ++i)
    if (ws.weight[i] > 0 && ws.distance2[i] > 0) far.push_back(i);
  auto farther = [&](std::int64_t a, std::int64_t b) {
    return ws.distance2[a] != ws.distance2[b] ? ws.distance2[a] > ws.distance2[b] : a < b;
  };
  const std::size_t take = std::min(far.size(), empty.size());
  std::partial_sort(far.begin(), far.begin() + static_cast<std::ptrdiff_t>(take), far.end(), farther);
  for (std::size_t e = 0; e < take; ++e) {
    double moved2 = 0;
    for (std::int64_t d = 0; d < dims; ++d) {
      const double next = ws.coordinate(far[e], d);
      moved2 += (next - ws.centers[empty[e] * dims + d]) * (next - ws.centers[empty[e] * dims + d]);
      ws.centers[empty[e] * dims + d] = next;
    }
    shift2 = std::max(shift2, moved2);
  }
  return std::sqrt(shift2);
}

KMeansResult iterate(Workspace& ws, int max_iterations, double tolerance) {
  KMeansResult result;
  std::vector<double> sums, cluster_weight;
  result.inertia_history.push_back(assign(ws, sums, cluster_weight));
  while (result.iterations < max_iterations) {
    const double shift = update_centers(ws, sums, cluster_weight);
    ++result.iterations;
    // Re-assigning after the last update keeps labels and inertia consistent with the centers.
    result.inertia_history.push_back(assign(ws, sums, cluster_weight));
    if (shift <= tolerance) {
      result.converged = true;
      break;
    }
  }
  result.inertia = result.inertia_history.back();
  result.labels.assign(ws.nearest.begin(), ws.nearest.end());
  result.centers = Tensor::empty({ws.clusters, ws.dims});
  float* out = result.centers.data<float>();
  for (int c = 0; c < ws.clusters; ++c)
    for (std::int64_t d = 0; d < ws.dims; ++d)
      out[c * ws.dims + d] = static_cast<float>(ws.centers[c * ws.dims + d] + ws.mean[d]);
  return result;
}

}  // namespace

KMeansResult kmeans(const Tensor& points, int clusters, std::uint64_t seed, int max_iterations, double tolerance,
                    const std::vector<float>* weights) {
  check_inputs(points, clusters, max_iterations, tolerance, weights);
  Workspace ws = make_workspace(points, clusters, weights);
  seed_centers(ws, seed);
  return iterate(ws, max_iterations, tolerance);
}

KMeansResult kmeans_from(const Tensor& points, const Tensor& initial_centers, int max_iterations, double tolerance,
                         const std::vector<float>* weights) {
  require_defined(initial_centers, "kmeans initial_centers");
  LATF_REQUIRE(initial_centers.device().is_cpu() && initial_centers.dtype() == DType::Float32 &&
                   initial_centers.rank() == 2,
               "kmeans initial_centers: expected a [K, D] float32 CPU tensor, got ", initial_centers.shape().str(), " ",
               dtype_name(initial_centers.dtype()), " on ", initial_centers.device().str());
  const auto clusters = static_cast<int>(initial_centers.dim(0));
  check_inputs(points, clusters, max_iterations, tolerance, weights);
  require_shape(initial_centers, {clusters, points.dim(1)}, "kmeans initial_centers");
  const float* c = initial_centers.data<float>();
  for (std::int64_t i = 0; i < initial_centers.numel(); ++i)
    LATF_REQUIRE(std::isfinite(c[i]), "kmeans initial_centers: row ", i / points.dim(1), " is not finite");
  Workspace ws = make_workspace(points, clusters, weights);
  ws.centers.resize(static_cast<std::size_t>(clusters * ws.dims));
  for (int k = 0; k < clusters; ++k)
    for (std::int64_t d = 0; d < ws.dims; ++d) ws.centers[k * ws.dims + d] = c[k * ws.dims + d] - ws.mean[d];
  return iterate(ws, max_iterations, tolerance);
}

}  // namespace latf::data
