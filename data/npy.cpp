#include "data/npy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "data/atomic_file.hpp"
#include "data/npy_header.hpp"
#include "engine/error.hpp"

namespace latf::data {

// Elements are copied between the file and memory byte for byte.
static_assert(std::endian::native == std::endian::little, "the .npy reader assumes a little-endian host");

const char* npy_descr(NpyType type) {
  switch (type) {
    case NpyType::Float32: return "<f4";
    case NpyType::Float64: return "<f8";
    case NpyType::Int32: return "<i4";
    case NpyType::Int64: return "<i8";
  }
  return "?";
}

std::size_t npy_item_size(NpyType type) {
  return type == NpyType::Float32 || type == NpyType::Int32 ? 4 : 8;
}

std::int64_t NpyArray::numel() const {
  // As in NumPy, a zero extent anywhere makes the array empty, however large the others.
  for (std::int64_t d : shape)
    if (d == 0) return 0;
  std::int64_t n = 1;
  for (std::int64_t d : shape)
    LATF_REQUIRE(!__builtin_mul_overflow(n, d, &n), "npy array: shape ", shape_text(shape),
                 " has more elements than a 64-bit count holds");
  return n;
}

namespace {

// Element i as double / as int64, whatever the stored type (memcpy: no alignment assumption).
template <class T>
T load(const NpyArray& a, std::int64_t i) {
  T value;
  std::memcpy(&value, a.bytes.data() + static_cast<std::size_t>(i) * sizeof(T), sizeof(T));
  return value;
}

double element_as_double(const NpyArray& a, std::int64_t i) {
  switch (a.type) {
    case NpyType::Float32: return load<float>(a, i);
    case NpyType::Float64: return load<double>(a, i);
    case NpyType::Int32: return load<std::int32_t>(a, i);
    case NpyType::Int64: return static_cast<double>(load<std::int64_t>(a, i));
  }
  return 0;
}

Shape to_shape(const std::vector<std::int64_t>& dims, const std::string& name) {
  LATF_REQUIRE(dims.size() <= static_cast<std::size_t>(Shape::kMaxRank), name, ": rank ", dims.size(),
               " array, at most rank ", Shape::kMaxRank, " is supported");
  // Shape::numel multiplies the extents in order, so even an empty array's nonzero extents must
  // have a product that fits (NumPy allows shape (2**62, 2**40, 0); a tensor cannot).
  std::int64_t product = 1;
  for (std::int64_t d : dims)
    LATF_REQUIRE(d == 0 || !__builtin_mul_overflow(product, d, &product), name, ": shape ", shape_text(dims),
                 " is too large for a tensor");
  switch (dims.size()) {
    case 0: return Shape{};
    case 1: return Shape{dims[0]};
    case 2: return Shape{dims[0], dims[1]};
    case 3: return Shape{dims[0], dims[1], dims[2]};
    default: return Shape{dims[0], dims[1], dims[2], dims[3]};
  }
}

// Checks the array's own consistency before it is written.
void require_well_formed(const NpyArray& a, const std::string& name) {
  LATF_REQUIRE(a.shape.size() <= static_cast<std::size_t>(Shape::kMaxRank), name, ": rank ", a.shape.size(),
               " array, at most rank ", Shape::kMaxRank, " is supported");
  for (std::int64_t d : a.shape) LATF_REQUIRE(d >= 0, name, ": negative shape entry ", d);
  const std::int64_t bytes = npy_byte_count(a.shape, a.type, name);
  LATF_REQUIRE(static_cast<std::int64_t>(a.bytes.size()) == bytes, name, ": holds ", a.bytes.size(),
               " bytes but shape ", shape_text(a.shape), " of ", npy_descr(a.type), " needs ", bytes);
}

// Reads exactly `size` bytes; a short read means the file changed under us.
void read_exact(int fd, unsigned char* out, std::size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t got = ::read(fd, out, size);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail("npy file '", path, "': read failed (", std::strerror(errno), ")");
    if (got == 0) fail("npy file '", path, "': file shrank while being read");
    out += got;
    size -= static_cast<std::size_t>(got);
  }
}

class FileHandle {
 public:
  explicit FileHandle(int fd) : fd_(fd) {}
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  ~FileHandle() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

NpyArray parse_npy(const unsigned char* data, std::size_t size, const std::string& name_for_errors) {
  const std::string name = concat("npy file '", name_for_errors, "'");
  const NpyPrelude prelude = parse_npy_prelude(data, size, size, name);
  const NpyHeader header =
      parse_npy_header(reinterpret_cast<const char*>(data) + prelude.header_start, prelude.header_length, name);
  const std::size_t data_start = prelude.header_start + prelude.header_length;
  require_data_size(header, size - data_start, name);
  NpyArray array;
  array.type = header.type;
  array.shape = header.shape;
  array.bytes.assign(data + data_start, data + size);
  return array;
}

NpyArray read_npy(const std::string& path) {
  const std::string name = concat("npy file '", path, "'");
  FileHandle file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) fail(name, ": cannot open (", std::strerror(errno), ")");
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) fail(name, ": cannot stat (", std::strerror(errno), ")");
  LATF_REQUIRE(S_ISREG(info.st_mode), name, ": not a regular file");
  const auto file_size = static_cast<std::size_t>(info.st_size);

  // Sizes come from the file's length before anything is allocated from the header's claims.
  unsigned char fixed[kNpyMaxPreludeSize] = {};
  const std::size_t fixed_size = std::min(file_size, sizeof(fixed));
  read_exact(file.get(), fixed, fixed_size, path);
  const NpyPrelude prelude = parse_npy_prelude(fixed, fixed_size, file_size, name);
  std::string header_text(prelude.header_length, '\0');
  const std::size_t already = fixed_size - std::min(fixed_size, prelude.header_start);
  const std::size_t header_in_fixed = std::min(already, prelude.header_length);
  std::memcpy(header_text.data(), fixed + prelude.header_start, header_in_fixed);
  read_exact(file.get(), reinterpret_cast<unsigned char*>(header_text.data()) + header_in_fixed,
             prelude.header_length - header_in_fixed, path);
  const NpyHeader header = parse_npy_header(header_text.data(), header_text.size(), name);

  const std::size_t data_start = prelude.header_start + prelude.header_length;
  require_data_size(header, file_size - data_start, name);
  NpyArray array;
  array.type = header.type;
  array.shape = header.shape;
  array.bytes.resize(file_size - data_start);
  const std::size_t data_in_fixed = fixed_size - std::min(fixed_size, data_start);
  if (data_in_fixed > 0) std::memcpy(array.bytes.data(), fixed + data_start, data_in_fixed);
  read_exact(file.get(), array.bytes.data() + data_in_fixed, array.bytes.size() - data_in_fixed, path);
  return array;
}

Tensor npy_to_tensor(const NpyArray& array) {
  require_well_formed(array, "npy_to_tensor array");
  Tensor t = Tensor::empty(to_shape(array.shape, "npy_to_tensor"));
  float* out = t.data<float>();
  const std::int64_t n = array.numel();
  if (array.type == NpyType::Float32) {
    if (n > 0) std::memcpy(out, array.bytes.data(), array.bytes.size());
  } else {
    for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(element_as_double(array, i));
  }
  return t;
}

std::vector<std::int64_t> npy_to_integers(const NpyArray& array, const std::string& name_for_errors) {
  require_well_formed(array, name_for_errors);
  const std::int64_t n = array.numel();
  std::vector<std::int64_t> values(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    if (array.type == NpyType::Int64) {
      values[i] = load<std::int64_t>(array, i);
    } else if (array.type == NpyType::Int32) {
      values[i] = load<std::int32_t>(array, i);
    } else {
      const double v = element_as_double(array, i);
      // 2^63 is exactly representable; anything at or above it does not fit in int64.
      const bool fits = std::isfinite(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0;
      LATF_REQUIRE(fits && std::trunc(v) == v, name_for_errors, ": element ", i, " (", v,
                   ") is not an integer; integer labels expected");
      values[i] = static_cast<std::int64_t>(v);
    }
  }
  return values;
}

std::vector<unsigned char> serialize_npy(const NpyArray& array, int major_version) {
  require_well_formed(array, "npy array");
  LATF_REQUIRE(major_version >= 1 && major_version <= 3, "npy array: format version ", major_version,
               ".0 requested, expected 1, 2 or 3");
  std::vector<unsigned char> image = npy_header_bytes(array.type, array.shape, major_version);
  image.insert(image.end(), array.bytes.begin(), array.bytes.end());
  return image;
}

void write_npy(const std::string& path, const NpyArray& array) {
  const std::vector<unsigned char> image = serialize_npy(array);
  write_file_atomically(path, image.data(), image.size());
}

void write_npy(const std::string& path, const Tensor& tensor) {
  require_defined(tensor, "write_npy tensor");
  const Tensor host = tensor.to(Device::cpu());
  NpyArray array;
  array.type = host.dtype() == DType::Float32 ? NpyType::Float32 : NpyType::Float64;
  for (int axis = 0; axis < host.rank(); ++axis) array.shape.push_back(host.dim(axis));
  const auto* first = static_cast<const unsigned char*>(host.raw_data());
  array.bytes.assign(first, first + host.bytes());
  write_npy(path, array);
}

namespace {

template <class T>
NpyArray array_from_values(const std::vector<T>& values, const std::vector<std::int64_t>& shape, NpyType type) {
  NpyArray array;
  array.type = type;
  array.shape = shape;
  const std::int64_t expected = npy_byte_count(shape, type, "write_npy") / static_cast<std::int64_t>(sizeof(T));
  LATF_REQUIRE(static_cast<std::int64_t>(values.size()) == expected, "write_npy: ", values.size(),
               " values given for shape ", shape_text(shape), " (", expected, " expected)");
  const auto* first = reinterpret_cast<const unsigned char*>(values.data());
  array.bytes.assign(first, first + values.size() * sizeof(T));
  return array;
}

}  // namespace

void write_npy(const std::string& path, const std::vector<std::int64_t>& values, const std::vector<std::int64_t>& shape) {
  write_npy(path, array_from_values(values, shape, NpyType::Int64));
}

void write_npy(const std::string& path, const std::vector<double>& values, const std::vector<std::int64_t>& shape) {
  write_npy(path, array_from_values(values, shape, NpyType::Float64));
}

}  // namespace latf::data
