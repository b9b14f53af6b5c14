// One warp per row: the layout shared by the ERA row kernels (era_gaussian.cu, era_vision.cu).
// Lane l owns the elements (k * 32 + l) * VEC + j of its row (k < chunks, j < VEC), so each load
// instruction of the warp covers 32 * VEC consecutive floats (coalesced; 16-byte vectors when
// VEC = 4). With CHUNKS > 0 a row of up to 32 * VEC * CHUNKS floats is held in registers and read
// from memory once; CHUNKS = 0 streams any row length from memory (later passes hit L1/L2).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace era::cuda {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;  // 256-thread blocks, one row per warp

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

__device__ __forceinline__ float warp_min(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fminf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

// Calls f(slot, i) for every element i < n this lane owns; `slot` indexes the lane's registers.
template <int VEC, int CHUNKS, class F>
__device__ __forceinline__ void for_each_owned(int64_t n, int lane, F&& f) {
  const int64_t chunks = CHUNKS > 0 ? CHUNKS : (n + kWarp * VEC - 1) / (kWarp * VEC);
#pragma unroll
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t base = (k * kWarp + lane) * VEC;
#pragma unroll
    for (int j = 0; j < VEC; ++j)
      if (base + j < n) f(static_cast<int>(k * VEC + j), base + j);
  }
}

// Writes out[i] = f(slot, i) for every owned element; 16-byte stores when VEC = 4 (the caller
// guarantees n % 4 == 0 and 16-byte aligned rows then, so a chunk is all in or all out).
template <int VEC, int CHUNKS, class F>
__device__ __forceinline__ void store_owned(float* out, int64_t n, int lane, F&& f) {
  const int64_t chunks = CHUNKS > 0 ? CHUNKS : (n + kWarp * VEC - 1) / (kWarp * VEC);
#pragma unroll
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t base = (k * kWarp + lane) * VEC;
    if (base >= n) continue;
    const int slot = static_cast<int>(k * VEC);
    if constexpr (VEC == 4) {
      float4 v = make_float4(f(slot, base), f(slot + 1, base + 1), f(slot + 2, base + 2),
                             f(slot + 3, base + 3));
      *reinterpret_cast<float4*>(out + base) = v;
    } else {
      out[base] = f(slot, base);
    }
  }
}

// A row as one lane sees it: registers (CHUNKS > 0) or a pointer (CHUNKS = 0).
// row(slot, i) returns element i, which this lane owns at register `slot`.
template <int VEC, int CHUNKS>
struct WarpRow {
  float v[CHUNKS * VEC];

  __device__ __forceinline__ void load(const float* row, int64_t n, int lane) {
#pragma unroll
    for (int k = 0; k < CHUNKS; ++k) {
      const int64_t base = (int64_t(k) * kWarp + lane) * VEC;
      if constexpr (VEC == 4) {
        float4 t = base < n ? __ldg(reinterpret_cast<const float4*>(row + base))
                            : make_float4(0.f, 0.f, 0.f, 0.f);
        v[4 * k] = t.x, v[4 * k + 1] = t.y, v[4 * k + 2] = t.z, v[4 * k + 3] = t.w;
      } else {
        v[k] = base < n ? __ldg(row + base) : 0.f;
      }
    }
  }
  __device__ __forceinline__ float operator()(int slot, int64_t) const { return v[slot]; }
};

template <int VEC>
struct WarpRow<VEC, 0> {
  const float* p = nullptr;
  __device__ __forceinline__ void load(const float* row, int64_t, int) { p = row; }
  __device__ __forceinline__ float operator()(int, int64_t i) const { return __ldg(p + i); }
};

inline bool is_aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// Blocks for `rows` rows at one warp per row; kernels grid-stride over rows beyond that.
inline unsigned row_blocks(int64_t rows) {
  int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  if (blocks < 1) blocks = 1;
  if (blocks > (int64_t(1) << 30)) blocks = int64_t(1) << 30;
  return static_cast<unsigned>(blocks);
}

}  // namespace era::cuda
