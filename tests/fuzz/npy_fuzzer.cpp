// libFuzzer target for the .npy parser (built with -DLATF_BUILD_FUZZERS=ON under clang, see
// data/CMakeLists.txt). Contract: any input either parses into a self-consistent array that
// survives a serialize/parse round trip, or throws InvalidArgument. Any other exception, a
// sanitizer report or a failed check below is a bug.
#include <cstdint>
#include <cstdlib>

#include "data/npy.hpp"
#include "engine/error.hpp"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace latf::data;
  NpyArray array;
  try {
    array = parse_npy(data, size, "fuzz input");
  } catch (const latf::InvalidArgument&) {
    return 0;
  }
  check(array.shape.size() <= 4);
  for (std::int64_t d : array.shape) check(d >= 0);
  check(array.bytes.size() == static_cast<std::size_t>(array.numel()) * npy_item_size(array.type));
  for (int version = 1; version <= 3; ++version) {
    const std::vector<unsigned char> image = serialize_npy(array, version);
    const NpyArray again = parse_npy(image.data(), image.size(), "round trip");
    check(again.type == array.type && again.shape == array.shape && again.bytes == array.bytes);
  }
  if (array.type == NpyType::Int32 || array.type == NpyType::Int64)
    check(npy_to_integers(array).size() == static_cast<std::size_t>(array.numel()));
  check(npy_to_tensor(array).numel() == array.numel());
  return 0;
}
