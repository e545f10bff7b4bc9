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

void expect_same_bits(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  EXPECT_EQ(float_bits(a), float_bits(b)) << what;
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

std::vector<Tensor> random_slices(std::int64_t models, const Shape& shape, std::uint64_t seed, double low, double high,
                                  DType dtype) {
  std::vector<Tensor> out;
  for (std::int64_t m = 0; m < models; ++m) out.push_back(random_tensor(shape, seed + 17 * m, low, high, dtype));
  return out;
}

Tensor stack_slices(const std::vector<Tensor>& slices) {
  const Shape& s = slices.front().shape();
  const auto m = static_cast<std::int64_t>(slices.size());
  const Shape full = s.rank() == 1 ? Shape{m, s[0]} : Shape{m, s[0], s[1]};
  Tensor out = Tensor::empty(full, slices.front().device(), slices.front().dtype());
  for (std::int64_t i = 0; i < m; ++i) out.view(i * s.numel(), s).copy_from(slices[i]);
  return out;
}

Tensor model_slice(const Tensor& stacked, std::int64_t m) {
  const Shape& s = stacked.shape();
  const Shape inner = s.rank() == 1 ? Shape{1} : s.rank() == 2 ? Shape{s[1]} : s.rank() == 3 ? Shape{s[1], s[2]}
                                                                                       : Shape{s[1], s[2], s[3]};
  return stacked.view(m * inner.numel(), inner);
}

}  // namespace latf::testing
