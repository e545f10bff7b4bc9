#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0): little-endian float32/float64/int32/int64
// arrays in C order, rank 0..4. Every malformed file is rejected with an InvalidArgument that
// names the file and the defect; the reader never allocates more than the file actually holds.
// Writes are atomic: the new file appears whole under its name, or the old one stays as it was.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.hpp"

namespace latf::data {

enum class NpyType { Float32, Float64, Int32, Int64 };

const char* npy_descr(NpyType type);  // "<f4", "<f8", "<i4", "<i8"
std::size_t npy_item_size(NpyType type);

struct NpyArray {
  NpyType type = NpyType::Float32;
  std::vector<std::int64_t> shape;   // empty for a 0-d array (one element)
  std::vector<unsigned char> bytes;  // little-endian elements in C order
  std::int64_t numel() const;
};

NpyArray read_npy(const std::string& path);
// `name_for_errors` stands for the file in messages (a path, or a label for in-memory data).
NpyArray parse_npy(const unsigned char* data, std::size_t size, const std::string& name_for_errors);

// float32 CPU tensor of the array's shape; float64 and integer elements are converted (integers
// above 2^24 in magnitude round to the nearest float).
Tensor npy_to_tensor(const NpyArray& array);
// Elements as int64 (labels). Floating elements are accepted only when every one is integral.
std::vector<std::int64_t> npy_to_integers(const NpyArray& array, const std::string& name_for_errors = "npy array");

// The tensor's own dtype decides the file's: float32 → '<f4', float64 → '<f8'. CUDA tensors are
// copied to the host first.
void write_npy(const std::string& path, const Tensor& tensor);
void write_npy(const std::string& path, const std::vector<std::int64_t>& values, const std::vector<std::int64_t>& shape);
void write_npy(const std::string& path, const std::vector<double>& values, const std::vector<std::int64_t>& shape);
void write_npy(const std::string& path, const NpyArray& array);

// The complete file image of `array` in format `major_version`.0 (1, 2 or 3; the header is the
// same text, only the width of its length field and the declared encoding differ).
std::vector<unsigned char> serialize_npy(const NpyArray& array, int major_version = 1);

}  // namespace latf::data
