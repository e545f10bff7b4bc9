#include <array>
#include <mutex>

#include "engine/cuda_check.cuh"
#include "engine/cuda_runtime.hpp"

namespace latf::cuda {

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw BackendError(concat("CUDA error ", cudaGetErrorName(status), " (", cudaGetErrorString(status),
                            ") in ", call, " at ", file, ":", line));
}

void throw_status_error(int status, const char* library, const char* call, const char* file, int line) {
  throw BackendError(concat(library, " error status ", status, " in ", call, " at ", file, ":", line));
}

int device_count() {
  static const int count = [] {
    int n = 0;
    // No driver or no device: the backend is simply unavailable, not an error.
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return n;
  }();
  return count;
}

void set_device(int index) { LATF_CUDA_CHECK(cudaSetDevice(index)); }

constexpr int kMaxDevices = 16;

cudaStream_t current_stream(int index) {
  static std::array<cudaStream_t, kMaxDevices> streams{};
  static std::mutex lock;
  LATF_REQUIRE(index >= 0 && index < kMaxDevices, "cuda device index ", index, " out of range");
  std::lock_guard<std::mutex> guard(lock);
  if (streams[index] == nullptr) {
    set_device(index);
    LATF_CUDA_CHECK(cudaStreamCreateWithFlags(&streams[index], cudaStreamNonBlocking));
  }
  return streams[index];
}

void* stream(int index) { return current_stream(index); }

void synchronize(int index) { LATF_CUDA_CHECK(cudaStreamSynchronize(current_stream(index))); }

void* malloc_device(std::size_t bytes, int index) {
  set_device(index);
  void* ptr = nullptr;
  LATF_CUDA_CHECK(cudaMalloc(&ptr, bytes));
  return ptr;
}

void free_device(void* ptr, int index) {
  set_device(index);
  LATF_CUDA_CHECK(cudaFree(ptr));
}

void copy(void* dst, const void* src, std::size_t bytes, CopyKind kind, int index) {
  const cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                           : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                            : cudaMemcpyDeviceToDevice;
  cudaStream_t s = current_stream(index);
  LATF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, k, s));
  if (kind != CopyKind::DeviceToDevice) LATF_CUDA_CHECK(cudaStreamSynchronize(s));
}

void memset_zero(void* ptr, std::size_t bytes, int index) {
  LATF_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, current_stream(index)));
}

void begin_capture(int index) {
  set_device(index);
  LATF_CUDA_CHECK(cudaStreamBeginCapture(current_stream(index), cudaStreamCaptureModeRelaxed));
}

void* end_capture(int index) {
  cudaGraph_t graph = nullptr;
  LATF_CUDA_CHECK(cudaStreamEndCapture(current_stream(index), &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);  // the executable graph keeps what it needs
  LATF_CUDA_CHECK(status);
  return exec;
}

void abort_capture(int index) {
  cudaGraph_t graph = nullptr;
  if (cudaStreamEndCapture(current_stream(index), &graph) == cudaSuccess && graph != nullptr) cudaGraphDestroy(graph);
  cudaGetLastError();  // the failed capture's error is the caller's to report
}

void launch_graph(void* graph, int index) {
  LATF_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph), current_stream(index)));
}

void destroy_graph(void* graph) {
  if (graph != nullptr) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(graph));
}

}  // namespace latf::cuda
