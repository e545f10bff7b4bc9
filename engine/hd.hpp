#pragma once
// Marks the functions that hold a formula shared by the CPU and the CUDA implementation.
#if defined(__CUDACC__)
#define LATF_HD __host__ __device__ __forceinline__
#else
#define LATF_HD inline
#endif
