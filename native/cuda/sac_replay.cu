// Replay-buffer sampling on the GPU: Philox indices, and row gathers / ring-buffer writes as
// grid-stride element copies (consecutive threads take consecutive elements of a row, so reads
// and writes coalesce along the feature dim).
#include "../core/philox.h"
#include "launch.cuh"
#include "sac_replay.h"

namespace era::cuda {
namespace {

__global__ void indices_kernel(int32_t* __restrict__ out, int64_t count, uint64_t high,
                               uint64_t seed, uint64_t offset) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t w = philox_block(seed, offset / 4 + static_cast<uint64_t>(i) / 4).v[i % 4];
    out[i] = static_cast<int32_t>((static_cast<uint64_t>(w) * high) >> 32);
  }
}

template <typename T>
__global__ void gather_kernel(T* __restrict__ out, const T* __restrict__ src,
                              const int32_t* __restrict__ idx, int64_t seeds, int64_t n,
                              int64_t batch, int64_t f) {
  const int64_t total = seeds * batch * f;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = e / f, col = e - row * f;
    const int64_t s = row / batch, b = row - s * batch;
    const int32_t k = __ldg(idx + b);
    // Never read outside the buffer: a bad index yields a zero row (the op documents it).
    out[e] = (k >= 0 && k < n) ? src[(s * n + k) * f + col] : T(0);
  }
}

template <typename T>
__global__ void scatter_kernel(T* __restrict__ dst, const T* __restrict__ rows, int64_t seeds,
                               int64_t n, int64_t k, int64_t f, int64_t start) {
  const int64_t total = seeds * k * f;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = e / f, col = e - row * f;
    const int64_t s = row / k, i = row - s * k;
    dst[(s * n + (start + i) % n) * f + col] = rows[e];
  }
}

}  // namespace

void random_indices_i32(int32_t* out, int64_t count, int64_t high, uint64_t seed,
                        uint64_t offset, void* stream) {
  if (count == 0) return;
  indices_kernel<<<grid_for(count), kBlock, 0, as_stream(stream)>>>(
      out, count, static_cast<uint64_t>(high), seed, offset);
}

void gather_rows(void* out, const void* src, const int32_t* idx, int64_t seeds, int64_t n,
                 int64_t batch, int64_t f, int elem_bytes, void* stream) {
  const int64_t total = seeds * batch * f;
  if (total == 0) return;
  cudaStream_t s = as_stream(stream);
  if (elem_bytes == 4)
    gather_kernel<uint32_t><<<grid_for(total), kBlock, 0, s>>>(
        static_cast<uint32_t*>(out), static_cast<const uint32_t*>(src), idx, seeds, n, batch, f);
  else
    gather_kernel<uint16_t><<<grid_for(total), kBlock, 0, s>>>(
        static_cast<uint16_t*>(out), static_cast<const uint16_t*>(src), idx, seeds, n, batch, f);
}

void scatter_rows(void* dst, const void* rows, int64_t seeds, int64_t n, int64_t k, int64_t f,
                  int64_t start, int elem_bytes, void* stream) {
  const int64_t total = seeds * k * f;
  if (total == 0) return;
  cudaStream_t s = as_stream(stream);
  if (elem_bytes == 4)
    scatter_kernel<uint32_t><<<grid_for(total), kBlock, 0, s>>>(
        static_cast<uint32_t*>(dst), static_cast<const uint32_t*>(rows), seeds, n, k, f, start);
  else
    scatter_kernel<uint16_t><<<grid_for(total), kBlock, 0, s>>>(
        static_cast<uint16_t*>(dst), static_cast<const uint16_t*>(rows), seeds, n, k, f, start);
}

}  // namespace era::cuda
