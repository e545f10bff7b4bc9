#pragma once
// The engine's narrow door to the CUDA runtime. Plain C++ types only, so that host code
// compiles without CUDA headers; without the CUDA backend every call either reports "no
// device" or throws.
#include <cstddef>

namespace latf::cuda {

int device_count();
void set_device(int index);
void synchronize(int index);
void* malloc_device(std::size_t bytes, int index);
void free_device(void* ptr, int index);
enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
// Ordered on the device's stream; copies that touch host memory wait for completion.
void copy(void* dst, const void* src, std::size_t bytes, CopyKind kind, int index);
void memset_zero(void* ptr, std::size_t bytes, int index);
// The stream every kernel of a device is queued on (a cudaStream_t behind a void*).
void* stream(int index);

// CUDA Graphs (engine/step_graph.hpp): record the work queued on the device's stream from
// begin_capture to end_capture (relaxed mode: the memory pool may still allocate), and get it back
// as an executable graph (a cudaGraphExec_t behind a void*). abort_capture ends a capture whose
// recording failed and discards it.
void begin_capture(int index);
void* end_capture(int index);
void abort_capture(int index);
void launch_graph(void* graph, int index);
void destroy_graph(void* graph);

}  // namespace latf::cuda
