#include <array>
#include <mutex>

#include "engine/cuda_check.cuh"
#include "kernels/cublas_handle.cuh"

namespace latf::cuda {

cublasHandle_t cublas_handle(int device_index) {
  static std::array<cublasHandle_t, 16> handles{};
  static std::mutex lock;
  LATF_REQUIRE(device_index >= 0 && device_index < 16, "cuda device index ", device_index, " out of range");
  std::lock_guard<std::mutex> guard(lock);
  if (handles[device_index] == nullptr) {
    set_device(device_index);
    LATF_CUBLAS_CHECK(cublasCreate(&handles[device_index]));
    LATF_CUBLAS_CHECK(cublasSetStream(handles[device_index], current_stream(device_index)));
    // Keep fp32 GEMMs in true fp32: log-dets sum over layers and must not lose bits to TF32.
    LATF_CUBLAS_CHECK(cublasSetMathMode(handles[device_index], CUBLAS_DEFAULT_MATH));
  }
  return handles[device_index];
}

}  // namespace latf::cuda
