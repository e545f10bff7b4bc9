#pragma once
// A dense, contiguous N-D array (rank ≤ 4) on one device. Tensors share pooled storage by
// reference count; a view is a contiguous range of another tensor's storage (the flat
// parameter buffer hands out one view per weight). float32 is the engine's type on every
// device; float64 exists on the CPU so that gradients can be checked in double precision.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "engine/device.hpp"
#include "engine/memory.hpp"

namespace latf {

enum class DType { Float32, Float64 };
const char* dtype_name(DType dtype);
std::size_t dtype_size(DType dtype);

class Shape {
 public:
  static constexpr int kMaxRank = 4;
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  int rank() const { return rank_; }
  std::int64_t operator[](int axis) const { return dims_[axis]; }
  std::int64_t numel() const;
  bool operator==(const Shape& other) const;
  std::string str() const;

 private:
  std::int64_t dims_[kMaxRank] = {0, 0, 0, 0};
  int rank_ = 0;
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(const Tensor& other);
  Tensor(Tensor&& other) noexcept;
  Tensor& operator=(const Tensor& other);
  Tensor& operator=(Tensor&& other) noexcept;
  ~Tensor();

  static Tensor empty(const Shape& shape, const Device& device = Device::cpu(),
                      DType dtype = DType::Float32);
  static Tensor zeros(const Shape& shape, const Device& device = Device::cpu(),
                      DType dtype = DType::Float32);
  static Tensor full(const Shape& shape, double value, const Device& device = Device::cpu(),
                     DType dtype = DType::Float32);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                            const Device& device = Device::cpu());
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape);

  bool defined() const { return block_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  std::int64_t dim(int axis) const { return shape_[axis]; }
  std::int64_t numel() const { return shape_.numel(); }
  const Device& device() const { return device_; }
  DType dtype() const { return dtype_; }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }

  // Typed pointer to the first element; throws if T does not match the dtype.
  template <class T>
  T* data() const;
  void* raw_data() const;

  // A view of `shape.numel()` elements starting `offset` elements into this tensor.
  Tensor view(std::int64_t offset, const Shape& shape) const;
  Tensor reshape(const Shape& shape) const { return view(0, shape); }

  Tensor to(const Device& device) const;  // copy (or this tensor if already there)
  Tensor to(DType dtype) const;           // CPU only: convert element type
  Tensor clone() const;
  void copy_from(const Tensor& source);   // same shape and dtype, any devices
  void fill(double value);
  void zero();

  std::vector<float> to_vector() const;           // float32 values on the host
  std::vector<double> to_double_vector() const;   // any dtype, as double on the host
  float item() const;                              // the single element of a 1-element tensor

 private:
  MemoryBlock* block_ = nullptr;
  std::int64_t offset_ = 0;  // in elements
  Shape shape_;
  Device device_;
  DType dtype_ = DType::Float32;
};

// Used by kernels: throws InvalidArgument naming `operand` unless the shape matches exactly.
void require_shape(const Tensor& tensor, const Shape& expected, const char* operand);
void require_defined(const Tensor& tensor, const char* operand);
void require_same_device(const Tensor& a, const Tensor& b, const char* name_a, const char* name_b);

}  // namespace latf
