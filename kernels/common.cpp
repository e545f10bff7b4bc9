#include "kernels/common.hpp"

#include <limits>
#include <vector>

namespace latf::kernels {

namespace {
// The tape's check mode runs this on every op output, so the common all-finite case is one
// branch-free pass that vectorises (|v| ≤ max is false for NaN and ±Inf); only a failing tensor
// is scanned again to name the first bad element.
template <class T>
bool all_finite(const T* values, std::int64_t n) {
  unsigned bad = 0;
  for (std::int64_t i = 0; i < n; ++i) bad |= !(std::abs(values[i]) <= std::numeric_limits<T>::max());
  return bad == 0;
}

template <class T>
void scan_finite(const T* values, std::int64_t n, const Tensor& t, const char* operand) {
  if (all_finite(values, n)) return;
  for (std::int64_t i = 0; i < n; ++i)
    LATF_REQUIRE(std::isfinite(values[i]), operand, ": expected finite values, found ", values[i], " at flat index ",
                 i, " of shape ", t.shape().str());
}
}  // namespace

void require_finite(const Tensor& t, const char* operand) {
  require_defined(t, operand);
  if (t.device().is_cuda()) {
    const std::vector<float> values = t.to_vector();  // check mode only: a copy and a sync
    scan_finite(values.data(), t.numel(), t, operand);
  } else if (t.dtype() == DType::Float32) {
    scan_finite(t.data<float>(), t.numel(), t, operand);
  } else {
    scan_finite(t.data<double>(), t.numel(), t, operand);
  }
}

}  // namespace latf::kernels
