#pragma once
// Eigen views of row-major tensors for the CPU paths (no copies, no allocation).
#include <Eigen/Core>

#include "engine/tensor.hpp"

namespace latf::kernels {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <class T>
using VectorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <class T>
using ConstVectorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

// The tensor's elements from `offset` on as a rows × cols row-major matrix.
template <class T>
MatrixMap<T> matrix(const Tensor& t, Eigen::Index rows, Eigen::Index cols, std::int64_t offset = 0) {
  return MatrixMap<T>(t.data<T>() + offset, rows, cols);
}
template <class T>
VectorMap<T> vector(const Tensor& t, Eigen::Index size, std::int64_t offset = 0) {
  return VectorMap<T>(t.data<T>() + offset, size);
}

}  // namespace latf::kernels
