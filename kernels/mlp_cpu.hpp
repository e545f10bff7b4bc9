#pragma once
// CPU building blocks of the fused MLP (packed or separate operands, kernels/mlp.hpp), shared by
// the mlp and coupling kernels. Batched Eigen GEMMs over all rows; activations live in pooled
// scratch tensors.
#include <type_traits>

#include "kernels/activation_math.hpp"
#include "kernels/eigen_maps.hpp"
#include "kernels/mlp.hpp"

namespace latf::kernels::cpu {

// Hidden activations of both layers for N rows, from the pool.
struct MlpActivations {
  Tensor hidden1, hidden2;  // [N, h]
  MlpActivations(std::int64_t rows, int hidden, DType dtype)
      : hidden1(Tensor::empty({rows, hidden}, Device::cpu(), dtype)),
        hidden2(Tensor::empty({rows, hidden}, Device::cpu(), dtype)) {}
  MlpActivations(Tensor h1, Tensor h2) : hidden1(std::move(h1)), hidden2(std::move(h2)) {}
};

// dst[c] += Σ_r src[r, c] for a row-major rows × cols matrix, each column summed over the rows in
// order. Eigen's vectorised colwise().sum() peels by the operands' alignment, so a model's slice of
// a stacked tensor would round differently from a lone tensor; this loop gives the same bits for
// any alignment (the stacked CPU ops equal M single ops exactly).
template <class T>
void add_column_sums(const T* src, Eigen::Index rows, Eigen::Index cols, T* dst) {
  Tensor sums = Tensor::zeros({cols}, Device::cpu(), std::is_same_v<T, float> ? DType::Float32 : DType::Float64);
  T* __restrict acc = sums.data<T>();
  for (Eigen::Index r = 0; r < rows; ++r) {
    const T* __restrict row = src + r * cols;
    for (Eigen::Index c = 0; c < cols; ++c) acc[c] += row[c];
  }
  for (Eigen::Index c = 0; c < cols; ++c) dst[c] += acc[c];
}

template <class T>
void mlp_forward(const MatrixMap<T>& X, const MlpOperands<const T>& p, const MlpShape& s, T alpha, MlpActivations& act,
                 MatrixMap<T> Y) {
  const Eigen::Index n = X.rows();
  ConstMatrixMap<T> W1(p.part[0], s.hidden, s.in), W2(p.part[2], s.hidden, s.hidden), W3(p.part[4], s.out, s.hidden);
  ConstVectorMap<T> b1(p.part[1], s.hidden), b2(p.part[3], s.hidden), b3(p.part[5], s.out);
  auto leaky = [alpha](T v) { return activate(v, Activation::LeakyReLU, alpha); };
  auto H1 = matrix<T>(act.hidden1, n, s.hidden);
  auto H2 = matrix<T>(act.hidden2, n, s.hidden);
  H1.noalias() = X * W1.transpose();
  H1.rowwise() += b1.transpose();
  H1 = H1.unaryExpr(leaky);
  H2.noalias() = H1 * W2.transpose();
  H2.rowwise() += b2.transpose();
  H2 = H2.unaryExpr(leaky);
  Y.noalias() = H2 * W3.transpose();
  Y.rowwise() += b3.transpose();
}

// Packed parameters (MlpShape layout).
template <class T>
void mlp_forward(const MatrixMap<T>& X, const T* params, const MlpShape& s, T alpha, MlpActivations& act,
                 MatrixMap<T> Y) {
  mlp_forward<T>(X, packed_operands(params, s), s, alpha, act, Y);
}

// Backward through an MLP whose activations `act` were computed by mlp_forward on X.
// Accumulates into dX (may be null) and every non-null part of grads.
template <class T>
void mlp_backward(const MatrixMap<T>& X, const MlpOperands<const T>& p, const MlpShape& s, T alpha,
                  const MlpActivations& act, const MatrixMap<T>& dY, T* dX, const MlpOperands<T>& grads) {
  const Eigen::Index n = X.rows();
  ConstMatrixMap<T> W1(p.part[0], s.hidden, s.in), W2(p.part[2], s.hidden, s.hidden), W3(p.part[4], s.out, s.hidden);
  auto H1 = matrix<T>(act.hidden1, n, s.hidden);
  auto H2 = matrix<T>(act.hidden2, n, s.hidden);
  Tensor scratch2 = Tensor::empty({n, s.hidden}, Device::cpu(), act.hidden1.dtype());
  Tensor scratch1 = Tensor::empty({n, s.hidden}, Device::cpu(), act.hidden1.dtype());
  auto dpre2 = matrix<T>(scratch2, n, s.hidden);
  auto dpre1 = matrix<T>(scratch1, n, s.hidden);
  auto slope = [alpha](T g, T v) { return g * activation_slope(v, Activation::LeakyReLU, alpha); };
  dpre2.noalias() = dY * W3;
  dpre2 = dpre2.binaryExpr(H2, slope);
  dpre1.noalias() = dpre2 * W2;
  dpre1 = dpre1.binaryExpr(H1, slope);
  if (dX != nullptr) MatrixMap<T>(dX, n, s.in).noalias() += dpre1 * W1;
  const auto& g = grads.part;
  if (g[4] != nullptr) MatrixMap<T>(g[4], s.out, s.hidden).noalias() += dY.transpose() * H2;
  if (g[5] != nullptr) add_column_sums<T>(dY.data(), n, s.out, g[5]);
  if (g[2] != nullptr) MatrixMap<T>(g[2], s.hidden, s.hidden).noalias() += dpre2.transpose() * H1;
  if (g[3] != nullptr) add_column_sums<T>(dpre2.data(), n, s.hidden, g[3]);
  if (g[0] != nullptr) MatrixMap<T>(g[0], s.hidden, s.in).noalias() += dpre1.transpose() * X;
  if (g[1] != nullptr) add_column_sums<T>(dpre1.data(), n, s.hidden, g[1]);
}

// Packed parameters and gradient (dparams may be null).
template <class T>
void mlp_backward(const MatrixMap<T>& X, const T* params, const MlpShape& s, T alpha, const MlpActivations& act,
                  const MatrixMap<T>& dY, T* dX, T* dparams) {
  mlp_backward<T>(X, packed_operands(params, s), s, alpha, act, dY, dX, packed_operands(dparams, s));
}

}  // namespace latf::kernels::cpu
