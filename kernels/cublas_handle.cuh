#pragma once
#include <cublas_v2.h>

namespace latf::cuda {
// One cuBLAS handle per device, bound to the device's engine stream.
cublasHandle_t cublas_handle(int device_index);
}  // namespace latf::cuda
