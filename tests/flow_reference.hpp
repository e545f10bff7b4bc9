#pragma once
// Independent double-precision references for the conditioner MLP and the coupling layer,
// written as plain loops straight from METHOD.md §4 (no code shared with kernels/).
#include <cmath>
#include <vector>

namespace latf::testing {

struct ReferenceMlp {
  int in, hidden, out;
  std::vector<double> params;  // packed W1 b1 W2 b2 W3 b3
  double alpha = 0.01;

  std::vector<double> apply(const std::vector<double>& x) const {
    auto leaky = [&](double v) { return v > 0 ? v : alpha * v; };
    std::size_t at = 0;
    auto take = [&](std::size_t count) {
      const double* p = params.data() + at;
      at += count;
      return p;
    };
    const double *W1 = take(hidden * in), *b1 = take(hidden), *W2 = take(hidden * hidden), *b2 = take(hidden),
                 *W3 = take(out * hidden), *b3 = take(out);
    std::vector<double> h1(hidden), h2(hidden), y(out);
    for (int i = 0; i < hidden; ++i) {
      double acc = b1[i];
      for (int j = 0; j < in; ++j) acc += W1[i * in + j] * x[j];
      h1[i] = leaky(acc);
    }
    for (int i = 0; i < hidden; ++i) {
      double acc = b2[i];
      for (int j = 0; j < hidden; ++j) acc += W2[i * hidden + j] * h1[j];
      h2[i] = leaky(acc);
    }
    for (int k = 0; k < out; ++k) {
      double acc = b3[k];
      for (int j = 0; j < hidden; ++j) acc += W3[k * hidden + j] * h2[j];
      y[k] = acc;
    }
    return y;
  }
};

// One row through a coupling layer; returns y and writes log|det|.
inline std::vector<double> reference_coupling(const std::vector<double>& x, const std::vector<double>& mask,
                                              const ReferenceMlp& scale, const ReferenceMlp& shift,
                                              const std::vector<double>& a, double clamp, bool generative,
                                              double* log_det) {
  const std::size_t d = x.size();
  std::vector<double> c(d);
  for (std::size_t j = 0; j < d; ++j) c[j] = x[j] * mask[j];
  const std::vector<double> s = scale.apply(c), t = shift.apply(c);
  std::vector<double> y(d);
  *log_det = 0;
  for (std::size_t j = 0; j < d; ++j) {
    double ls = s[j] * a[j];
    if (clamp > 0) ls = clamp * std::tanh(ls / clamp);
    if (mask[j] == 1.0) {
      y[j] = x[j];
    } else if (generative) {
      y[j] = x[j] * std::exp(ls) + t[j];
      *log_det += ls;
    } else {
      y[j] = (x[j] - t[j]) * std::exp(-ls);
      *log_det -= ls;
    }
  }
  return y;
}

}  // namespace latf::testing
