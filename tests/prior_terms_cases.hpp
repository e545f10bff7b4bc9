#pragma once
// The cases of the fused prior-term tests (tests/test_prior_terms.cpp and its GPU twin): the form
// (single or M stacked), log-variance layout, weights, log_det, and sizes; and their inputs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/error.hpp"
#include "tests/support.hpp"

namespace latf::testing::prior_terms {

// models 0 is the single form; otherwise the stacked form with that many models.
struct Case {
  int models;
  bool scalar_lv;  // [1] / [M,1] log-variances, else per element
  bool weighted;
  bool log_det;  // the tilted term's log_det given (else the identity flow's none)
  std::int64_t n;
  int d, k;
};

inline std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return concat(c.models == 0 ? std::string("Single") : concat("Stacked", c.models), c.scalar_lv ? "ScalarLv" : "ElementLv",
                c.weighted ? "Weighted" : "Unweighted", c.log_det ? "LogDet" : "NoLogDet", "N", c.n, "D", c.d, "K", c.k);
}

inline Shape shape_of(const Case& c, std::int64_t a) {
  return c.models ? Shape{c.models, a} : Shape{a};
}
inline Shape shape_of(const Case& c, std::int64_t a, std::int64_t b) {
  return c.models ? Shape{c.models, a, b} : Shape{a, b};
}

inline Tensor rand(const Shape& shape, std::uint64_t seed, double low, double high, DType dtype) {
  return random_tensor(shape, seed, low, high, dtype);
}

// u, mean, log_variance, means, component_log_variance, mixture_logits, then weights if weighted.
inline std::vector<Tensor> vamp_inputs(const Case& c, DType dtype, std::uint64_t seed = 1) {
  std::vector<Tensor> in = {
      rand(shape_of(c, c.n, c.d), seed, -2, 2, dtype),
      rand(shape_of(c, c.n, c.d), seed + 1, -1, 1, dtype),
      c.scalar_lv ? rand(shape_of(c, 1), seed + 2, -0.6, 0.6, dtype) : rand(shape_of(c, c.n, c.d), seed + 2, -0.6, 0.6, dtype),
      rand(shape_of(c, c.k, c.d), seed + 3, -1.5, 1.5, dtype),
      c.scalar_lv ? rand(shape_of(c, 1), seed + 4, -0.6, 0.6, dtype) : rand(shape_of(c, c.k, c.d), seed + 4, -0.6, 0.6, dtype),
      rand(shape_of(c, c.k), seed + 5, -1, 1, dtype)};
  if (c.weighted) in.push_back(rand(shape_of(c, c.n), seed + 6, 0.2, 2.0, dtype));
  return in;
}

// z, inverse_temperature, then log_det if given, then weights if weighted.
inline std::vector<Tensor> tilted_inputs(const Case& c, DType dtype, std::uint64_t seed = 20) {
  std::vector<Tensor> in = {rand(shape_of(c, c.n, c.d), seed, -2, 2, dtype), rand(shape_of(c, c.n), seed + 1, 0.5, 1.5, dtype)};
  if (c.log_det) in.push_back(rand(shape_of(c, c.n), seed + 2, -1, 1, dtype));
  if (c.weighted) in.push_back(rand(shape_of(c, c.n), seed + 3, 0.2, 2.0, dtype));
  return in;
}

}  // namespace latf::testing::prior_terms
