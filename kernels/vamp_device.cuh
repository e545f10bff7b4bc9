#pragma once
// Where the VampPrior's row-shared gradients go on the GPU, shared by the vamp density's backward
// (kernels/gaussian.cu) and the fused SPIB prior term's (kernels/prior_terms.cu): every row adds to
// the same K·d component means, K·d component log-variances (or one scalar) and K logits, so a
// block either atomically adds straight into global memory or stages its partials in shared
// memory and flushes them once.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace latf::kernels {

// How a VampPrior backward launch spreads its rows: whether it stages (the partials fit in 40 KiB,
// leaving room for the block reductions' static shared memory under the 48 KiB a launch gets
// without opting in), its dynamic shared memory, and at most how many blocks per model along x
// (0: no limit). A staged block flushes every partial once, so a few blocks per SM suffice: the
// whole launch stays near the single form's block count however many models share it.
struct VampBackwardLaunch {
  bool stage = false;
  std::size_t shared_bytes = 0;
  unsigned max_blocks_per_model = 0;
};
inline VampBackwardLaunch vamp_backward_launch(std::int64_t k_count, std::int64_t d, bool scalar_log_variance,
                                               std::int64_t models) {
  constexpr std::int64_t kMaxStagedFloats = 40 * 1024 / sizeof(float);
  constexpr unsigned kMaxReductionBlocks = 2 * 132;
  const std::int64_t staged = k_count * d * (scalar_log_variance ? 1 : 2) + k_count;
  VampBackwardLaunch launch;
  launch.stage = staged <= kMaxStagedFloats;
  if (launch.stage) {
    launch.shared_bytes = static_cast<std::size_t>(staged) * sizeof(float);
    launch.max_blocks_per_model = std::max(1u, kMaxReductionBlocks / static_cast<unsigned>(models));
  }
  return launch;
}

// The sink vamp_row_backward (kernels/gaussian_math.hpp) writes through. A shared scalar
// log-variance's gradient stays in a register and is block-reduced by the caller at the end.
struct DeviceVampSink {
  float* dmeans;          // or null: not needed
  float* dlog_variance;   // per-component log-variances only, or null
  float* dlogits;         // or null
  bool scalar_log_variance;
  float log_variance_total;
  __device__ void mean(int index, float v) {
    if (dmeans) atomicAdd(dmeans + index, v);
  }
  __device__ void log_variance(int index, float v) {
    if (scalar_log_variance) {
      log_variance_total += v;
    } else if (dlog_variance) {
      atomicAdd(dlog_variance + index, v);
    }
  }
  __device__ void logit(int k, float v) {
    if (dlogits) atomicAdd(dlogits + k, v);
  }
};

// A block's staged partials in dynamic shared memory: [K·d means | K·d log-variances (absent for a
// scalar) | K logits]. `global` keeps the sink's global targets for the flush.
class VampStaging {
 public:
  __device__ VampStaging(float* staged, const DeviceVampSink& global, int k_count, int d)
      : staged_(staged), global_(global), means_(k_count * d),
        log_variances_(global.scalar_log_variance ? 0 : k_count * d), count_(means_ + log_variances_ + k_count) {}
  // Zeroes the partials and points `sink` at them (every thread of the block calls it).
  __device__ void begin(DeviceVampSink& sink) const {
    for (int i = threadIdx.x; i < count_; i += blockDim.x) staged_[i] = 0.f;
    __syncthreads();
    sink.dmeans = global_.dmeans ? staged_ : nullptr;
    sink.dlog_variance = global_.dlog_variance ? staged_ + means_ : nullptr;
    sink.dlogits = global_.dlogits ? staged_ + means_ + log_variances_ : nullptr;
  }
  // Adds the block's partials to the global targets (every thread of the block calls it).
  __device__ void flush() const {
    __syncthreads();
    for (int i = threadIdx.x; i < count_; i += blockDim.x) {
      if (i < means_) {
        if (global_.dmeans) atomicAdd(global_.dmeans + i, staged_[i]);
      } else if (i < means_ + log_variances_) {
        if (global_.dlog_variance) atomicAdd(global_.dlog_variance + (i - means_), staged_[i]);
      } else if (global_.dlogits) {
        atomicAdd(global_.dlogits + (i - means_ - log_variances_), staged_[i]);
      }
    }
  }

 private:
  float* staged_;
  DeviceVampSink global_;
  int means_, log_variances_, count_;
};

}  // namespace latf::kernels
