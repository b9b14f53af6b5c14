// Deterministic reductions for the dense layers and optimizers: a fixed grid (a function of n
// only) writes one double partial per block into a library-wide scratch buffer, and a single
// block then sums the partials in a fixed order and hands the total to a finalizer. No atomics,
// so the result is bitwise reproducible run to run. Work on the library stream is serial, so one
// scratch buffer serves every reduction.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace era::cuda {

constexpr int kReduceThreads = 256;
constexpr int kMaxPartials = 1024;
// kMaxPartials partials, then two spare doubles (clip: running sum of squares, scale factor).
constexpr int kScratchDoubles = kMaxPartials + 2;

// The scratch buffer (allocated once, on first use, with cudaMalloc; never freed).
double* reduction_scratch(const char* op);

inline int reduce_blocks(int64_t n) {
  int64_t b = (n + kReduceThreads * 8 - 1) / (kReduceThreads * 8);
  if (b < 1) b = 1;
  if (b > kMaxPartials) b = kMaxPartials;
  return static_cast<int>(b);
}

// Sum over the block in a fixed order (warp shuffles, then warp totals in warp order).
__device__ __forceinline__ double block_sum_double(double v) {
  __shared__ double warp_totals[32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // warp_totals may still be read by a previous call
  if (lane == 0) warp_totals[warp] = v;
  __syncthreads();
  double total = 0;
  if (threadIdx.x == 0)
    for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) total += warp_totals[w];
  return total;  // valid in thread 0
}

// Partials of sum_i f(i), i < n; f is a functor with `__device__ double operator()(int64_t)`.
template <class F>
__global__ void reduce_partials_kernel(F f, int64_t n, double* partials) {
  double s = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    s += f(i);
  s = block_sum_double(s);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

// One block: total of `count` partials, then fin(total) on thread 0.
template <class Fin>
__global__ void reduce_finalize_kernel(const double* partials, int count, Fin fin) {
  double s = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partials[i];
  s = block_sum_double(s);
  if (threadIdx.x == 0) fin(s);
}

// Runs the two kernels: fin receives sum_i f(i).
template <class F, class Fin>
void reduce_launch(F f, int64_t n, Fin fin, cudaStream_t stream, const char* op) {
  double* partials = reduction_scratch(op);
  const int blocks = reduce_blocks(n);
  reduce_partials_kernel<F><<<blocks, kReduceThreads, 0, stream>>>(f, n, partials);
  reduce_finalize_kernel<Fin><<<1, kReduceThreads, 0, stream>>>(partials, blocks, fin);
}

}  // namespace era::cuda
