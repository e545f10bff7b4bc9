#pragma once
// The .npy header, internal to data/: the fixed prelude (magic, version, header length) and the
// Python-literal dict that follows it. Every function takes `name` (e.g. "npy file 'x.npy'") to
// start its error messages with, and trusts no byte it is given.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/npy.hpp"

namespace latf::data {

// Magic (6) + version (2) + header length (2 in format 1.0, 4 in 2.0/3.0).
constexpr std::size_t kNpyMaxPreludeSize = 12;

struct NpyPrelude {
  int major_version = 1;
  std::size_t header_start = 0;   // offset of the dict text
  std::size_t header_length = 0;  // bytes of dict text and padding
};

// `available` bytes of the file's start are in `data` (at least min(file_size, 12));
// `file_size` bounds the declared header length.
NpyPrelude parse_npy_prelude(const unsigned char* data, std::size_t available, std::size_t file_size,
                             const std::string& name);

struct NpyHeader {
  NpyType type = NpyType::Float32;
  std::vector<std::int64_t> shape;
  std::int64_t data_bytes = 0;  // numel × item size, overflow-checked
};

NpyHeader parse_npy_header(const char* text, std::size_t length, const std::string& name);

// The data block must be exactly as long as the header's shape says.
void require_data_size(const NpyHeader& header, std::size_t available, const std::string& name);

// numel × item size; throws when a shape entry is negative or the product overflows int64.
std::int64_t npy_byte_count(const std::vector<std::int64_t>& shape, NpyType type, const std::string& name);

// Python tuple notation, as NumPy writes it: "()", "(3,)", "(2, 3)".
std::string shape_text(const std::vector<std::int64_t>& shape);

// Prelude + dict + padding, a multiple of 64 bytes long.
std::vector<unsigned char> npy_header_bytes(NpyType type, const std::vector<std::int64_t>& shape, int major_version);

}  // namespace latf::data
