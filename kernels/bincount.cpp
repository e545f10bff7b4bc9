#include "kernels/bincount.hpp"

#include "kernels/bincount_math.hpp"

namespace latf::kernels {

#if LATF_WITH_CUDA
void bincount_cuda(const std::int64_t* labels, std::int64_t n, std::int64_t* counts, std::int64_t k, int device_index);
void argmax_count_cuda(const float* scores, std::int64_t n, int k, std::int64_t* counts, std::int64_t* non_finite,
                       int device_index);
#endif

namespace {

void require_same_index_device(const Device& a, const char* name_a, const Device& b, const char* name_b) {
  LATF_REQUIRE(a == b, name_b, ": expected device ", a.str(), " of ", name_a, ", got ", b.str());
}

template <class T>
void argmax_count_cpu(const T* scores, std::int64_t n, int k, std::int64_t* counts, std::int64_t* non_finite) {
  for (std::int64_t i = 0; i < n; ++i) {
    const int best = histogram::row_argmax(scores + i * k, k);
    if (best >= 0) {
      ++counts[best];
    } else if (non_finite) {
      ++non_finite[0];
    }
  }
}

}  // namespace

void bincount(const Indices& labels, Indices& counts) {
  LATF_REQUIRE(labels.defined(), "bincount labels: not allocated");
  LATF_REQUIRE(counts.defined(), "bincount counts: not allocated");
  require_same_index_device(labels.device(), "bincount labels", counts.device(), "bincount counts");
  LATF_REQUIRE(counts.size() >= 1, "bincount counts: expected size >= 1, got ", counts.size());
  const std::int64_t n = labels.size(), k = counts.size();
  if (n == 0) return;
  if (labels.device().is_cuda()) {
#if LATF_WITH_CUDA
    bincount_cuda(labels.data(), n, counts.data(), k, labels.device().index);
#else
    no_cuda_backend("bincount");
#endif
    return;
  }
  const std::int64_t* l = labels.data();
  // Check every label before counting any, so a bad call leaves counts untouched.
  for (std::int64_t i = 0; i < n; ++i)
    LATF_REQUIRE(l[i] >= 0 && l[i] < k, "bincount labels: expected values in [0, ", k, "), got ", l[i],
                 " at index ", i);
  std::int64_t* c = counts.data();
  for (std::int64_t i = 0; i < n; ++i) ++c[l[i]];
}

void argmax_count(const Tensor& scores, Indices& counts, Indices& non_finite) {
  require_defined(scores, "argmax_count scores");
  LATF_REQUIRE(scores.rank() == 2 && scores.dim(1) >= 1,
               "argmax_count scores: expected rank 2 [n, K] with K >= 1, got shape ", scores.shape().str());
  LATF_REQUIRE(counts.defined(), "argmax_count counts: not allocated");
  LATF_REQUIRE(counts.size() == scores.dim(1), "argmax_count counts: expected size ", scores.dim(1),
               " (K of scores), got ", counts.size());
  require_same_index_device(scores.device(), "argmax_count scores", counts.device(), "argmax_count counts");
  if (non_finite.defined()) {
    LATF_REQUIRE(non_finite.size() == 1, "argmax_count non_finite: expected size 1, got ", non_finite.size());
    require_same_index_device(scores.device(), "argmax_count scores", non_finite.device(), "argmax_count non_finite");
  }
  LATF_REQUIRE(scores.dim(1) <= (std::int64_t{1} << 30), "argmax_count scores: expected K <= 2^30, got ",
               scores.dim(1));
  const std::int64_t n = scores.dim(0);
  const int k = static_cast<int>(scores.dim(1));
  if (n == 0) return;
  std::int64_t* bad = non_finite.defined() ? non_finite.data() : nullptr;
  if (scores.device().is_cuda()) {
#if LATF_WITH_CUDA
    argmax_count_cuda(scores.data<float>(), n, k, counts.data(), bad, scores.device().index);
#else
    no_cuda_backend("argmax_count");
#endif
    return;
  }
  dispatch_cpu_dtype(scores, [&](auto zero) {
    using T = decltype(zero);
    argmax_count_cpu(scores.data<T>(), n, k, counts.data(), bad);
  });
}

}  // namespace latf::kernels
