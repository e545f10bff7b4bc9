#pragma once
#include <cstdint>

namespace latf {
// Fills n floats on a CUDA device with one value (the stub throws without the CUDA backend).
void fill_cuda(float* data, std::int64_t n, float value, int device_index);
}  // namespace latf
