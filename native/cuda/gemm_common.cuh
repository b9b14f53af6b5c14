// What the two CUDA GEMM translation units share: the kernels' argument block, the grouped tile
// order, the epilogue (beta, bias, activation, bounds), cp.async, and the host side's device limits
// and batched launch. gemm.cu holds the mma.sync and FMA kernels and the dispatch; gemm_wgmma.cu
// the Hopper warpgroup kernel, compiled for sm_90a alone.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

#include "../core/activation.h"
#include "gemm.h"

namespace era::cuda::gemm_detail {

struct Args {
  int m, n, k;
  const void* a;
  long long stride_a;
  const void* b;
  long long stride_b;
  const float* bias;
  long long stride_bias;
  float* out;
  long long stride_out;
  int accumulate;
  int act;
  int vec;  // 16-byte copies are legal for both operands
};

constexpr int kGroupM = 8;

// Grouped ("swizzled") tile order: consecutive blocks walk kGroupM tile rows down one tile column.
__device__ __forceinline__ void tile_coords(int tiles_m, int tiles_n, int& tm, int& tn) {
  const int pid = blockIdx.x;
  const int per_group = kGroupM * tiles_n;
  const int group = pid / per_group;
  const int first_m = group * kGroupM;
  const int gsize = min(tiles_m - first_m, kGroupM);
  const int in_group = pid - group * per_group;
  tm = first_m + in_group % gsize;
  tn = in_group / gsize;
}

// The block's output tile (grouped order over the grid's x) and its batch entry's (grid's y)
// operands, output and bias.
template <typename S>
struct BlockTile {
  int m0, n0;
  const S* a;
  const S* b;
  float* out;
  const float* bias;
};

template <typename S, int BM, int BN>
__device__ __forceinline__ BlockTile<S> block_tile(const Args& args) {
  const int tiles_m = (args.m + BM - 1) / BM, tiles_n = (args.n + BN - 1) / BN;
  int tm, tn;
  tile_coords(tiles_m, tiles_n, tm, tn);
  const long long batch = blockIdx.y;
  return {tm * BM,
          tn * BN,
          static_cast<const S*>(args.a) + batch * args.stride_a,
          static_cast<const S*>(args.b) + batch * args.stride_b,
          args.out + batch * args.stride_out,
          args.bias ? args.bias + batch * args.stride_bias : nullptr};
}

// ---------------------------------------------------------------------------------------------
// Epilogue: out[r, c] = act((beta ? out[r, c] : 0) + acc + bias[c]) for in-bounds (r, c).
__device__ __forceinline__ float epilogue_value(const Args& a, const float* bias, const float* out,
                                                int r, int c, float acc) {
  float v = acc;
  if (a.accumulate) v += out[static_cast<long long>(r) * a.n + c];
  if (bias) v += bias[c];
  return activate(v, static_cast<Activation>(a.act));
}

// Two horizontally adjacent values (c, c + 1) of row r.
__device__ __forceinline__ void store_pair(const Args& a, const float* bias, float* out, int r,
                                           int c, float v0, float v1) {
  if (r >= a.m || c >= a.n) return;
  float* p = out + static_cast<long long>(r) * a.n + c;
  if (c + 1 < a.n && (reinterpret_cast<uintptr_t>(p) & 7) == 0) {
    float2 w;
    w.x = epilogue_value(a, bias, out, r, c, v0);
    w.y = epilogue_value(a, bias, out, r, c + 1, v1);
    *reinterpret_cast<float2*>(p) = w;
  } else {
    p[0] = epilogue_value(a, bias, out, r, c, v0);
    if (c + 1 < a.n) p[1] = epilogue_value(a, bias, out, r, c + 1, v1);
  }
}


// ---------------------------------------------------------------------------------------------
// cp.async (16-byte global -> shared copies with zero fill) and the shared-memory address.
#if defined(ERA_CUDA_SIM)
// The CUDA simulator (native/sim/) does the copies when a wait retires them; shared addresses
// count from the launch's dynamic shared memory, which stands for the start of the shared window.
__device__ __forceinline__ unsigned smem_addr(const void* p) { return era_sim::shared_address(p); }
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  era_sim::cp_async16(dst, src, valid);
}
__device__ __forceinline__ void cp_async_commit() { era_sim::cp_async_commit(); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { era_sim::cp_async_wait(N); }
#else
__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  const int bytes = valid ? 16 : 0;  // 0: the 16 bytes are zero-filled, src is not read
  // The source operand is a .global address: convert the generic pointer (the same bits for device
  // memory on every GPU so far, but the PTX rules ask for it).
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)),
               "l"(__cvta_generic_to_global(src)), "r"(bytes));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
#endif  // ERA_CUDA_SIM

// ---------------------------------------------------------------------------------------------
// Host side.
// An attribute of the current device, or `fallback` where it cannot be read (the error is cleared).
inline int current_device_attribute(cudaDeviceAttr attr, int fallback) {
  int dev = 0, v = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&v, attr, dev) != cudaSuccess || v <= 0) {
    cudaGetLastError();
    return fallback;
  }
  return v;
}

inline int sm_count() {
  static const int count = current_device_attribute(cudaDevAttrMultiProcessorCount, 108);
  return count;
}

// The largest dynamic shared memory a block may opt into on this device.
inline int smem_optin() {
  static const int bytes = current_device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin, 48 * 1024);
  return bytes;
}

inline long long tiles_for(const GemmParams& p, int bm, int bn) {
  return static_cast<long long>((p.m + bm - 1) / bm) * ((p.n + bn - 1) / bn);
}

// Whether both operands allow 16-byte copies (leading dimensions, batch strides, addresses).
inline bool vec_ok(const GemmParams& p) {
  if (p.precision == 0) return false;  // the FMA kernel loads element-wise
  const int e = p.bf16_inputs ? 8 : 4;  // elements per 16 bytes
  const long long lda = p.trans_a ? p.m : p.k, ldb = p.trans_b ? p.k : p.n;
  auto aligned = [](const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15) == 0; };
  return lda % e == 0 && ldb % e == 0 && p.stride_a % e == 0 && p.stride_b % e == 0 &&
         aligned(p.a) && aligned(p.b);
}

// Launches `kernel` over the tile grid, batch entries in grid.y (chunks of 65535).
template <typename Kernel>
void launch(Kernel kernel, long long tiles, int threads, int smem, Args args, const GemmParams& p,
            cudaStream_t stream) {
  const size_t esize = p.bf16_inputs ? 2 : 4;
  for (int b0 = 0; b0 < p.batch; b0 += 65535) {
    const int nb = p.batch - b0 < 65535 ? p.batch - b0 : 65535;
    Args a = args;
    a.a = static_cast<const char*>(p.a) + static_cast<size_t>(b0) * p.stride_a * esize;
    a.b = static_cast<const char*>(p.b) + static_cast<size_t>(b0) * p.stride_b * esize;
    a.bias = p.bias ? p.bias + static_cast<long long>(b0) * p.stride_bias : nullptr;
    a.out = p.out + static_cast<long long>(b0) * p.stride_out;
    dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(nb));
    kernel<<<grid, threads, smem, stream>>>(a);
  }
}

}  // namespace era::cuda::gemm_detail
