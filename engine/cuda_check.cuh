#pragma once
// Every CUDA, cuBLAS and kernel-launch call goes through these checks; a failure throws
// BackendError naming the call, where it was made and the runtime's own message.
#include <cuda_runtime.h>

#include "engine/cuda_runtime.hpp"
#include "engine/error.hpp"

namespace latf::cuda {
[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_status_error(int status, const char* library, const char* call,
                                     const char* file, int line);
cudaStream_t current_stream(int index);
}  // namespace latf::cuda

#define LATF_CUDA_CHECK(call)                                                            \
  do {                                                                                   \
    cudaError_t latf_status_ = (call);                                                   \
    if (latf_status_ != cudaSuccess)                                                     \
      ::latf::cuda::throw_cuda_error(latf_status_, #call, __FILE__, __LINE__);           \
  } while (0)

#define LATF_CUBLAS_CHECK(call)                                                          \
  do {                                                                                   \
    int latf_status_ = static_cast<int>(call);                                           \
    if (latf_status_ != 0)                                                               \
      ::latf::cuda::throw_status_error(latf_status_, "cuBLAS", #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: reports bad launch configurations at the launch site.
#define LATF_CUDA_CHECK_LAUNCH() LATF_CUDA_CHECK(cudaGetLastError())
