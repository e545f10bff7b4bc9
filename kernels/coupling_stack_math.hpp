#pragma once
// The per-row algorithm of the fused RealNVP coupling stack (coupling_stack.hpp), written ONCE
// for the CPU loop and the CUDA kernel: a row runs through all L layers (both conditioner MLPs
// and coupling_element of every layer), and its backward recomputes the layers' inputs (kept in
// a small local array) and walks the layers in reverse. Parameter gradients leave through an
// accumulator callable acc(index, value) — on the CPU a plain +=, on CUDA a warp reduction then
// an atomic — so the row code never knows where they are summed. The accumulator must be
// called in the same order by every row of a warp (CUDA shuffles), so nothing here branches on
// row data around a call: only on the mask and the shape, which all rows share.
#include <cstdint>

#include "engine/hd.hpp"
#include "kernels/activation_math.hpp"
#include "kernels/coupling_math.hpp"
#include "kernels/coupling_stack.hpp"

namespace latf::kernels {

// Where layer l's parameters of one model sit in a flow buffer holding `models` models in
// RealNvp's layout: per layer, scale nets [models, size] | shift nets [models, size] | a [models, d].
// The single form is models = 1, model = 0; so is the compact copy a CUDA block stages on chip.
struct CouplingStackLayout {
  std::int64_t size = 0;  // parameters of one conditioner MLP
  std::int64_t dim = 0;
  std::int64_t models = 1;
  std::int64_t model = 0;
  LATF_HD std::int64_t layer() const { return models * (2 * size + dim); }
  LATF_HD std::int64_t scale(int l) const { return l * layer() + model * size; }
  LATF_HD std::int64_t shift(int l) const { return l * layer() + models * size + model * size; }
  LATF_HD std::int64_t a(int l) const { return l * layer() + 2 * models * size + model * dim; }
};

LATF_HD CouplingStackLayout coupling_stack_layout(const CouplingSpec& spec, std::int64_t models, std::int64_t model) {
  return CouplingStackLayout{spec.net().size(), spec.dim, models, model};
}

// The k-th layer a row passes through: g_1 … g_L generatively, g_L⁻¹ … g_1⁻¹ when normalizing.
LATF_HD int coupling_stack_layer(int step, int layers, bool generative) {
  return generative ? step : layers - 1 - step;
}

namespace stack_detail {

// H > 0: the hidden width is the compile-time H (CUDA, register arrays); H = 0: s.hidden at run
// time, at most kCouplingStackMaxHidden (CPU, any width).
template <int H>
LATF_HD int hidden_width(const MlpShape& s) {
  return H > 0 ? H : s.hidden;
}
template <int H>
constexpr int kHiddenCapacity = H > 0 ? H : kCouplingStackMaxHidden;

template <class T, int H>
LATF_HD void first_hidden(const T* p, const MlpShape& s, T alpha, const T* x, T* h1) {
  const int h = hidden_width<H>(s);
  for (int i = 0; i < h; ++i) {
    T acc = p[s.bias1() + i];
    for (int j = 0; j < s.in; ++j) acc += p[s.weight1() + i * s.in + j] * x[j];
    h1[i] = activate(acc, Activation::LeakyReLU, alpha);
  }
}

// Unit o of the second hidden layer from the first.
template <class T, int H>
LATF_HD T second_hidden(const T* p, const MlpShape& s, T alpha, const T* h1, int o) {
  const int h = hidden_width<H>(s);
  T acc = p[s.bias2() + o];
  for (int i = 0; i < h; ++i) acc += p[s.weight2() + o * h + i] * h1[i];
  return activate(acc, Activation::LeakyReLU, alpha);
}

}  // namespace stack_detail

// y = W3 φ(W2 φ(W1 x + b1) + b2) + b3 for one row (packing as kernels::MlpShape); the second
// hidden layer is streamed into y unit by unit, never stored.
template <class T, int H>
LATF_HD void coupling_stack_mlp_row(const T* p, const MlpShape& s, T alpha, const T* x, T* y) {
  T h1[stack_detail::kHiddenCapacity<H>];
  stack_detail::first_hidden<T, H>(p, s, alpha, x, h1);
  const int h = stack_detail::hidden_width<H>(s);
  for (int k = 0; k < s.out; ++k) y[k] = p[s.bias3() + k];
  for (int o = 0; o < h; ++o) {
    const T h2 = stack_detail::second_hidden<T, H>(p, s, alpha, h1, o);
    for (int k = 0; k < s.out; ++k) y[k] += p[s.weight3() + k * h + o] * h2;
  }
}

// Backward of coupling_stack_mlp_row given dy: adds the input gradient to dx and hands every
// parameter gradient to acc(offset + index in the packing, value).
template <class T, int H, class Acc>
LATF_HD void coupling_stack_mlp_row_backward(const T* p, const MlpShape& s, T alpha, const T* x, const T* dy, T* dx,
                                             Acc& acc, std::int64_t offset) {
  constexpr int kCap = stack_detail::kHiddenCapacity<H>;
  const int h = stack_detail::hidden_width<H>(s);
  T h1[kCap], dh1[kCap];
  stack_detail::first_hidden<T, H>(p, s, alpha, x, h1);
  for (int i = 0; i < h; ++i) dh1[i] = T(0);
  for (int k = 0; k < s.out; ++k) acc(offset + s.bias3() + k, dy[k]);
  for (int o = 0; o < h; ++o) {
    const T h2 = stack_detail::second_hidden<T, H>(p, s, alpha, h1, o);
    T dh2 = T(0);
    for (int k = 0; k < s.out; ++k) {
      dh2 += p[s.weight3() + k * h + o] * dy[k];
      acc(offset + s.weight3() + k * h + o, dy[k] * h2);
    }
    const T dpre2 = dh2 * activation_slope(h2, Activation::LeakyReLU, alpha);
    acc(offset + s.bias2() + o, dpre2);
    for (int i = 0; i < h; ++i) {
      dh1[i] += p[s.weight2() + o * h + i] * dpre2;
      acc(offset + s.weight2() + o * h + i, dpre2 * h1[i]);
    }
  }
  for (int i = 0; i < h; ++i) {
    const T dpre1 = dh1[i] * activation_slope(h1[i], Activation::LeakyReLU, alpha);
    acc(offset + s.bias1() + i, dpre1);
    for (int j = 0; j < s.in; ++j) {
      dx[j] += p[s.weight1() + i * s.in + j] * dpre1;
      acc(offset + s.weight1() + i * s.in + j, dpre1 * x[j]);
    }
  }
}

// One coupling layer on one row in place: row (d entries) → y; returns the layer's log|det|.
template <class T, int H>
LATF_HD T coupling_stack_layer_row(const T* params, const CouplingStackLayout& lay, const T* mask,
                                   const CouplingSpec& spec, int l, T* row) {
  const MlpShape net = spec.net();
  const int d = spec.dim;
  const bool generative = spec.direction == CouplingDirection::Generative;
  T c[kCouplingMaxDim], s[kCouplingMaxDim], t[kCouplingMaxDim];
  for (int j = 0; j < d; ++j) c[j] = row[j] * mask[j];
  coupling_stack_mlp_row<T, H>(params + lay.scale(l), net, T(spec.alpha), c, s);
  coupling_stack_mlp_row<T, H>(params + lay.shift(l), net, T(spec.alpha), c, t);
  const T* a = params + lay.a(l);
  T log_det = T(0);
  for (int j = 0; j < d; ++j) {
    const auto e = coupling_element<T>(row[j], mask[j], s[j], t[j], a[j], T(spec.scale_clamp), generative);
    row[j] = e.y;
    log_det += e.log_det;
  }
  return log_det;
}

// The whole stack on one row in place (masks [L, d]); returns the summed log|det|.
template <class T, int H>
LATF_HD T coupling_stack_row_forward(const T* params, const CouplingStackLayout& lay, const T* masks,
                                     const CouplingSpec& spec, int layers, T* row) {
  const bool generative = spec.direction == CouplingDirection::Generative;
  T log_det = T(0);
  for (int k = 0; k < layers; ++k) {
    const int l = coupling_stack_layer(k, layers, generative);
    log_det += coupling_stack_layer_row<T, H>(params, lay, masks + l * spec.dim, spec, l, row);
  }
  return log_det;
}

// Backward of one row: x (d entries) is the stack's input; grad holds dy on entry and dx on
// return (the caller adds it where it belongs); dlog_det is the row's log-det gradient, which
// reaches every layer unchanged (the log-dets are summed). Parameter gradients go to
// acc(index in lay's buffer, value).
template <class T, int H, class Acc>
LATF_HD void coupling_stack_row_backward(const T* params, const CouplingStackLayout& lay, const T* masks,
                                         const CouplingSpec& spec, int layers, const T* x, T* grad, T dlog_det,
                                         Acc& acc) {
  const MlpShape net = spec.net();
  const int d = spec.dim;
  const bool generative = spec.direction == CouplingDirection::Generative;
  const T alpha = T(spec.alpha), clamp = T(spec.scale_clamp);
  // inputs[k·d …]: the row as it enters the k-th layer it passes through.
  T inputs[kCouplingStackMaxLayers * kCouplingMaxDim];
  T row[kCouplingMaxDim];
  for (int j = 0; j < d; ++j) row[j] = x[j];
  for (int k = 0; k < layers; ++k) {
    for (int j = 0; j < d; ++j) inputs[k * d + j] = row[j];
    const int l = coupling_stack_layer(k, layers, generative);
    coupling_stack_layer_row<T, H>(params, lay, masks + l * d, spec, l, row);
  }
  for (int k = layers - 1; k >= 0; --k) {
    const int l = coupling_stack_layer(k, layers, generative);
    const T* in = inputs + k * d;
    const T* mask = masks + l * d;
    const T* a = params + lay.a(l);
    T c[kCouplingMaxDim], s[kCouplingMaxDim], t[kCouplingMaxDim];
    T gs[kCouplingMaxDim], gt[kCouplingMaxDim], gc[kCouplingMaxDim];
    for (int j = 0; j < d; ++j) {
      c[j] = in[j] * mask[j];
      gc[j] = T(0);
    }
    coupling_stack_mlp_row<T, H>(params + lay.scale(l), net, alpha, c, s);
    coupling_stack_mlp_row<T, H>(params + lay.shift(l), net, alpha, c, t);
    for (int j = 0; j < d; ++j) {
      const auto g = coupling_element_backward<T>(in[j], mask[j], s[j], t[j], a[j], clamp, generative, grad[j],
                                                  dlog_det);
      grad[j] = g.x;  // the direct path; the conditioner path is added below
      gs[j] = g.s;
      gt[j] = g.t;
      acc(lay.a(l) + j, g.a);
    }
    coupling_stack_mlp_row_backward<T, H>(params + lay.scale(l), net, alpha, c, gs, gc, acc, lay.scale(l));
    coupling_stack_mlp_row_backward<T, H>(params + lay.shift(l), net, alpha, c, gt, gc, acc, lay.shift(l));
    for (int j = 0; j < d; ++j) grad[j] += mask[j] * gc[j];
  }
}

}  // namespace latf::kernels
