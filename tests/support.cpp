#include "tests/support.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/error.hpp"
#include "engine/random_fill.hpp"

namespace latf::testing {

Tensor random_tensor(const Shape& shape, std::uint64_t seed, double low, double high, DType dtype,
                     const Device& device) {
  Tensor t = Tensor::empty(shape, Device::cpu(), dtype);
  fill_uniform(t, seed, 0, low, high);
  return t.to(device);
}

Tensor as_double(const Tensor& t) { return t.to(Device::cpu()).to(DType::Float64); }

std::vector<std::uint32_t> float_bits(const Tensor& t) {
  const std::vector<float> values = t.to(Device::cpu()).to_vector();
  std::vector<std::uint32_t> out(values.size());
  if (!values.empty()) std::memcpy(out.data(), values.data(), values.size() * sizeof(float));
  return out;
}

double max_relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const double e = std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i]));
    worst = std::isnan(e) ? INFINITY : std::max(worst, e);
  }
  return worst;
}

double max_relative_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  return max_relative_error(a.to(Device::cpu()).to_double_vector(), b.to(Device::cpu()).to_double_vector());
}

bool gpu_available() { return cuda_device_count() > 0; }

void expect_invalid_argument_all(const std::function<void()>& call, const std::vector<std::string>& fragments) {
  try {
    call();
    ADD_FAILURE() << "expected InvalidArgument mentioning '" << fragments.front() << "'";
  } catch (const InvalidArgument& e) {
    for (const std::string& fragment : fragments)
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

void expect_invalid_argument(const std::function<void()>& call, const std::string& fragment) {
  expect_invalid_argument_all(call, {fragment});
}

}  // namespace latf::testing
