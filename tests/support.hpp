#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/device.hpp"
#include "engine/tensor.hpp"

namespace latf::testing {

// Uniform random tensor in [low, high), reproducible from the seed.
Tensor random_tensor(const Shape& shape, std::uint64_t seed, double low = -1.0, double high = 1.0,
                     DType dtype = DType::Float32, const Device& device = Device::cpu());
Tensor as_double(const Tensor& t);  // float64 CPU copy
// max_i |a_i − b_i| / max(1, |b_i|) over two tensors of one shape (any devices/dtypes).
double max_relative_error(const Tensor& a, const Tensor& b);
double max_relative_error(const std::vector<double>& a, const std::vector<double>& b);
// The bit patterns of a float32 tensor on any device (exact equality, NaNs included).
std::vector<std::uint32_t> float_bits(const Tensor& t);
// Expects two float32 tensors of one shape to hold the same bits (`what` names them on failure).
void expect_same_bits(const Tensor& a, const Tensor& b, const std::string& what);

// Batched models (the stacked form of autodiff/ops.hpp). One random tensor per model, each from
// its own seed, so that the models differ:
std::vector<Tensor> random_slices(std::int64_t models, const Shape& shape, std::uint64_t seed, double low = -1,
                                  double high = 1, DType dtype = DType::Float32);
// [M, ...slice shape] holding the slices in order (slices of rank 1 or 2).
Tensor stack_slices(const std::vector<Tensor>& slices);
// Model m's slice of a stacked tensor: a view without the leading dimension ([M] gives [1]).
Tensor model_slice(const Tensor& stacked, std::int64_t m);
bool gpu_available();

// Expects `call` to throw latf::InvalidArgument whose message contains `fragment` (or every one
// of `fragments`): bad input must be rejected with a message that names it.
void expect_invalid_argument(const std::function<void()>& call, const std::string& fragment);
void expect_invalid_argument_all(const std::function<void()>& call, const std::vector<std::string>& fragments);

}  // namespace latf::testing

// First line of every GPU test.
#define LATF_SKIP_WITHOUT_GPU() \
  if (!::latf::testing::gpu_available()) GTEST_SKIP() << "no CUDA device in this process"
