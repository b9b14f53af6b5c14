// ERA_HD marks small functions shared by the CPU references and the CUDA kernels: compiled for
// both sides under nvcc, plain inline functions under the host compiler.
#pragma once

#if defined(__CUDACC__)
#define ERA_HD __host__ __device__ __forceinline__
#else
#define ERA_HD inline
#endif
