#include "kernels/common.hpp"

#include <vector>

namespace latf::kernels {

void require_finite(const Tensor& t, const char* operand) {
  require_defined(t, operand);
  const std::vector<double> values = t.to_double_vector();
  for (std::size_t i = 0; i < values.size(); ++i)
    LATF_REQUIRE(std::isfinite(values[i]), operand, ": expected finite values, found ", values[i],
                 " at flat index ", i, " of shape ", t.shape().str());
}

}  // namespace latf::kernels
