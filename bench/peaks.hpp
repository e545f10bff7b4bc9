#pragma once
// The machine's measured peaks, against which the benchmarks report what fraction they reach:
// FP32 fused multiply-add throughput (many independent FMA chains, nothing else) and memory
// bandwidth (a copy of a buffer far larger than every cache). One thread on the CPU, as every
// CPU benchmark here; the whole device on CUDA.
#include "engine/device.hpp"

namespace latf::bench {

struct Peaks {
  double gflops = 0;             // FP32, an FMA counted as 2
  double gbytes_per_second = 0;  // bytes read + written
};

Peaks measure_peaks(const Device& device);

#if LATF_WITH_CUDA
Peaks measure_cuda_peaks(int device_index);  // peaks.cu
#endif

}  // namespace latf::bench
