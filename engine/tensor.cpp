#include "engine/tensor.hpp"

#include <cstring>
#include <sstream>

#include "engine/cuda_runtime.hpp"
#include "engine/error.hpp"
#include "engine/tensor_fill.hpp"

namespace latf {

const char* dtype_name(DType dtype) { return dtype == DType::Float32 ? "float32" : "float64"; }
std::size_t dtype_size(DType dtype) { return dtype == DType::Float32 ? 4 : 8; }

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  LATF_REQUIRE(static_cast<int>(dims.size()) <= kMaxRank, "shape of rank ", dims.size(),
               ": at most rank ", kMaxRank, " is supported");
  for (std::int64_t d : dims) {
    LATF_REQUIRE(d >= 0, "shape dimension ", d, ": expected a non-negative size");
    dims_[rank_++] = d;
  }
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[i];
  return n;
}

bool Shape::operator==(const Shape& other) const {
  if (rank_ != other.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != other.dims_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::ostringstream out;
  out << "[";
  for (int i = 0; i < rank_; ++i) out << (i ? ", " : "") << dims_[i];
  out << "]";
  return out.str();
}

Tensor::Tensor(const Tensor& other)
    : block_(other.block_), offset_(other.offset_), shape_(other.shape_), device_(other.device_),
      dtype_(other.dtype_) {
  if (block_) block_->references.fetch_add(1, std::memory_order_relaxed);
}

Tensor::Tensor(Tensor&& other) noexcept
    : block_(other.block_), offset_(other.offset_), shape_(other.shape_), device_(other.device_),
      dtype_(other.dtype_) {
  other.block_ = nullptr;
}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this != &other) {
    Tensor copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this != &other) {
    this->~Tensor();
    block_ = other.block_;
    offset_ = other.offset_;
    shape_ = other.shape_;
    device_ = other.device_;
    dtype_ = other.dtype_;
    other.block_ = nullptr;
  }
  return *this;
}

Tensor::~Tensor() {
  if (block_ && block_->references.fetch_sub(1, std::memory_order_acq_rel) == 1) release_block(block_);
  block_ = nullptr;
}

Tensor Tensor::empty(const Shape& shape, const Device& device, DType dtype) {
  LATF_REQUIRE(!(device.is_cuda() && dtype == DType::Float64),
               "float64 tensors exist on the CPU only (asked for ", device.str(), ")");
  Tensor t;
  t.shape_ = shape;
  t.device_ = device;
  t.dtype_ = dtype;
  // Even an empty tensor owns a (minimum-size) block, so that defined() means "has storage".
  t.block_ = acquire_block(std::max<std::size_t>(t.bytes(), 1), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, const Device& device, DType dtype) {
  Tensor t = empty(shape, device, dtype);
  t.zero();
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, const Device& device, DType dtype) {
  Tensor t = empty(shape, device, dtype);
  t.fill(value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, const Device& device) {
  LATF_REQUIRE(static_cast<std::int64_t>(values.size()) == shape.numel(), "from_vector: ",
               values.size(), " values given for shape ", shape.str(), " (", shape.numel(), " expected)");
  Tensor t = empty(shape, device);
  if (device.is_cpu()) {
    std::memcpy(t.raw_data(), values.data(), t.bytes());
  } else if (t.bytes() > 0) {
    cuda::copy(t.raw_data(), values.data(), t.bytes(), cuda::CopyKind::HostToDevice, device.index);
  }
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape) {
  LATF_REQUIRE(static_cast<std::int64_t>(values.size()) == shape.numel(), "from_vector: ",
               values.size(), " values given for shape ", shape.str());
  Tensor t = empty(shape, Device::cpu(), DType::Float64);
  std::memcpy(t.raw_data(), values.data(), t.bytes());
  return t;
}

void* Tensor::raw_data() const {
  LATF_REQUIRE(block_ != nullptr, "access to an undefined tensor");
  return static_cast<char*>(block_->data) + offset_ * static_cast<std::int64_t>(dtype_size(dtype_));
}

template <class T>
T* Tensor::data() const {
  constexpr DType wanted = sizeof(T) == 4 ? DType::Float32 : DType::Float64;
  LATF_REQUIRE(dtype_ == wanted, "tensor of dtype ", dtype_name(dtype_), " read as ", dtype_name(wanted));
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;

Tensor Tensor::view(std::int64_t offset, const Shape& shape) const {
  LATF_REQUIRE(defined(), "view of an undefined tensor");
  LATF_REQUIRE(offset >= 0 && offset + shape.numel() <= numel(), "view of ", shape.numel(),
               " elements at offset ", offset, " exceeds the tensor of shape ", shape_.str());
  Tensor t(*this);
  t.offset_ = offset_ + offset;
  t.shape_ = shape;
  return t;
}

void Tensor::copy_from(const Tensor& source) {
  LATF_REQUIRE(source.shape() == shape_, "copy_from: source shape ", source.shape().str(),
               " differs from destination shape ", shape_.str());
  LATF_REQUIRE(source.dtype() == dtype_, "copy_from: source dtype ", dtype_name(source.dtype()),
               " differs from destination dtype ", dtype_name(dtype_));
  if (bytes() == 0) return;
  if (device_.is_cpu() && source.device().is_cpu()) {
    std::memmove(raw_data(), source.raw_data(), bytes());
  } else if (device_.is_cuda() && source.device().is_cuda()) {
    LATF_REQUIRE(device_ == source.device(), "copy_from between two CUDA devices (", source.device().str(),
                 " to ", device_.str(), ") is not supported; go through the host");
    cuda::copy(raw_data(), source.raw_data(), bytes(), cuda::CopyKind::DeviceToDevice, device_.index);
  } else if (device_.is_cuda()) {
    cuda::copy(raw_data(), source.raw_data(), bytes(), cuda::CopyKind::HostToDevice, device_.index);
  } else {
    cuda::copy(raw_data(), source.raw_data(), bytes(), cuda::CopyKind::DeviceToHost, source.device().index);
  }
}

Tensor Tensor::to(const Device& device) const {
  if (device == device_) return *this;
  Tensor t = empty(shape_, device, dtype_);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  LATF_REQUIRE(device_.is_cpu(), "dtype conversion is done on the CPU (tensor is on ", device_.str(), ")");
  if (dtype == dtype_) return *this;
  Tensor t = empty(shape_, device_, dtype);
  const std::int64_t n = numel();
  if (dtype == DType::Float64) {
    const float* src = data<float>();
    double* dst = t.data<double>();
    for (std::int64_t i = 0; i < n; ++i) dst[i] = src[i];
  } else {
    const double* src = data<double>();
    float* dst = t.data<float>();
    for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
  }
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, device_, dtype_);
  t.copy_from(*this);
  return t;
}

void Tensor::fill(double value) {
  if (numel() == 0) return;
  if (device_.is_cuda()) {
    fill_cuda(static_cast<float*>(raw_data()), numel(), static_cast<float>(value), device_.index);
  } else if (dtype_ == DType::Float32) {
    std::fill_n(data<float>(), numel(), static_cast<float>(value));
  } else {
    std::fill_n(data<double>(), numel(), value);
  }
}

void Tensor::zero() {
  if (numel() == 0) return;
  if (device_.is_cuda()) {
    cuda::memset_zero(raw_data(), bytes(), device_.index);
  } else {
    std::memset(raw_data(), 0, bytes());
  }
}

std::vector<float> Tensor::to_vector() const {
  LATF_REQUIRE(dtype_ == DType::Float32, "to_vector on a ", dtype_name(dtype_), " tensor");
  std::vector<float> out(static_cast<std::size_t>(numel()));
  if (out.empty()) return out;
  if (device_.is_cpu()) {
    std::memcpy(out.data(), raw_data(), bytes());
  } else {
    cuda::copy(out.data(), raw_data(), bytes(), cuda::CopyKind::DeviceToHost, device_.index);
  }
  return out;
}

std::vector<double> Tensor::to_double_vector() const {
  if (dtype_ == DType::Float64) {
    const double* p = data<double>();
    return std::vector<double>(p, p + numel());
  }
  const std::vector<float> f = to_vector();
  return std::vector<double>(f.begin(), f.end());
}

float Tensor::item() const {
  LATF_REQUIRE(numel() == 1, "item() of a tensor of shape ", shape_.str(), ": expected one element");
  if (dtype_ == DType::Float64) return static_cast<float>(*data<double>());
  if (device_.is_cpu()) return *data<float>();
  float value = 0.f;  // no vector: item() is read every step and must not allocate
  cuda::copy(&value, raw_data(), sizeof(float), cuda::CopyKind::DeviceToHost, device_.index);
  return value;
}

void require_defined(const Tensor& tensor, const char* operand) {
  LATF_REQUIRE(tensor.defined(), operand, ": expected a tensor, got none");
}

void require_shape(const Tensor& tensor, const Shape& expected, const char* operand) {
  require_defined(tensor, operand);
  LATF_REQUIRE(tensor.shape() == expected, operand, ": expected shape ", expected.str(), ", got ",
               tensor.shape().str());
}

void require_same_device(const Tensor& a, const Tensor& b, const char* name_a, const char* name_b) {
  LATF_REQUIRE(a.device() == b.device() && a.dtype() == b.dtype(), name_a, " is on ", a.device().str(),
               " (", dtype_name(a.dtype()), ") but ", name_b, " is on ", b.device().str(), " (",
               dtype_name(b.dtype()), ")");
}

}  // namespace latf
