// Used when the CUDA backend is not compiled: no device exists.
#include "engine/cuda_runtime.hpp"
#include "engine/error.hpp"

namespace latf::cuda {

namespace {
[[noreturn]] void no_backend() { throw BackendError("this build of LaTF has no CUDA backend"); }
}  // namespace

int device_count() { return 0; }
void set_device(int) { no_backend(); }
void synchronize(int) { no_backend(); }
void* malloc_device(std::size_t, int) { no_backend(); }
void free_device(void*, int) { no_backend(); }
void copy(void*, const void*, std::size_t, CopyKind, int) { no_backend(); }
void memset_zero(void*, std::size_t, int) { no_backend(); }
void* stream(int) { no_backend(); }
void begin_capture(int) { no_backend(); }
void* end_capture(int) { no_backend(); }
void abort_capture(int) { no_backend(); }
void launch_graph(void*, int) { no_backend(); }
void destroy_graph(void*) {}

}  // namespace latf::cuda

#include "engine/tensor_fill.hpp"
namespace latf {
void fill_cuda(float*, std::int64_t, float, int) {
  throw BackendError("this build of LaTF has no CUDA backend");
}
}  // namespace latf
