// Force-included (g++ -include) into every native/cuda/*.cu file when it is compiled as C++ for
// the CUDA simulator (the era_cuda_sim addon, ERA_CUDA_SIM=1). It supplies what nvcc would: the
// execution-space keywords, the built-in variables, barriers, warp shuffles, atomics, the math
// intrinsics the kernels use, and era_sim::launch, which scripts/cuda-sim-source.mjs puts in place
// of each `kernel<<<grid, block, smem, stream>>>(args)`. Threads are fibers (fiber.h); memory and
// streams come from cudart_sim.cc. It checks the kernels' logic, indexing and synchronisation,
// not their speed or the GPU's exact float rounding.
#pragma once

// Ours, not the toolkit's: `static` gives one copy per kernel, which is right because blocks run
// one at a time. The toolkit keeps a keyword that is already defined.
#define __shared__ static
#define __DEVICE_LAUNCH_PARAMETERS_H__  // its built-ins are const; ours are set by the scheduler

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "sim/cudart_sim.h"
#include "sim/fiber.h"

extern "C" {
extern uint3 threadIdx;
extern uint3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;
extern int warpSize;
}

#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

// ---- barriers and warp collectives ------------------------------------------------------------
inline void __syncthreads() { era_sim::block_barrier(); }
// Counts the threads whose predicate is non-zero; the count is published before the barrier opens.
inline int __syncthreads_count(int pred) { return era_sim::block_count(pred); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { era_sim::warp_barrier(mask); }

namespace era_sim {

// Every lane of `mask` publishes `mine`; each reads lane `src`'s value. Two barriers: one so all
// values are written before any is read, one so none is overwritten before all are read.
template <class T>
T warp_exchange(unsigned mask, const T& mine, int src) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= kSlotBytes, "slot too small");
  unsigned char* slots = warp_slots();
  std::memcpy(slots + lane_id() * kSlotBytes, &mine, sizeof(T));
  warp_barrier(mask);
  T out;
  std::memcpy(&out, slots + src * kSlotBytes, sizeof(T));
  warp_barrier(mask);
  return out;
}

// The lanes of `mask` publish `mine`; `all[l]` receives lane l's value (lanes outside the mask
// leave stale slots, which callers ignore). Votes and the tensor-core emulation use it.
template <class T>
void warp_all_gather(const T& mine, T (&all)[32], unsigned mask = 0xffffffffu) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= kSlotBytes, "slot too small");
  unsigned char* slots = warp_slots();
  std::memcpy(slots + lane_id() * kSlotBytes, &mine, sizeof(T));
  warp_barrier(mask);
  for (int l = 0; l < 32; ++l) std::memcpy(&all[l], slots + l * kSlotBytes, sizeof(T));
  warp_barrier(mask);
}

}  // namespace era_sim

template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  const int lane = era_sim::lane_id();
  return era_sim::warp_exchange(mask, v, (lane / width) * width + (src & (width - 1)));
}
// As PTX's shfl.sync.bfly: a lane may read from its own or an earlier group of `width` lanes;
// a source in a later group gives the lane its own value.
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  const int lane = era_sim::lane_id();
  const int src = lane ^ (lane_mask & 31);
  return era_sim::warp_exchange(mask, v, src <= (lane | (width - 1)) ? src : lane);
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = era_sim::lane_id();
  const int src = (lane % width) + static_cast<int>(delta) < width ? lane + static_cast<int>(delta) : lane;
  return era_sim::warp_exchange(mask, v, src);
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = era_sim::lane_id();
  const int src = (lane % width) >= static_cast<int>(delta) ? lane - static_cast<int>(delta) : lane;
  return era_sim::warp_exchange(mask, v, src);
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  unsigned votes[32];
  era_sim::warp_all_gather(static_cast<unsigned>(pred != 0), votes, mask);
  unsigned out = 0;
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && votes[l]) out |= 1u << l;
  return out;
}
// The lanes of `mask` whose `value` equals the caller's.
template <class T>
unsigned __match_any_sync(unsigned mask, T value) {
  T all[32];
  era_sim::warp_all_gather(value, all, mask);
  const int lane = era_sim::lane_id();
  unsigned out = 0;
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && all[l] == all[lane]) out |= 1u << l;
  return out;
}
inline int __any_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned mask, int pred) { return __ballot_sync(mask, pred) == __ballot_sync(mask, 1); }

// ---- atomics: fibers never preempt each other, so a plain read-modify-write is atomic ---------
template <class T>
T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }
template <class T>
T atomicMax(T* p, T v) { T old = *p; *p = std::max(old, v); return old; }
template <class T>
T atomicMin(T* p, T v) { T old = *p; *p = std::min(old, v); return old; }

// ---- loads, bit casts and integer intrinsics (only those native/cuda uses) ---------------------------------------------------
// These check the alignment a GPU needs (a float4 or uint4 on 16 bytes, say), which plain host
// loads would not, and copy bytes so a misaligned one does not fault the simulator itself.
namespace era_sim {
template <class T>
inline void check_aligned(const void* p, const char* how) {
  if (reinterpret_cast<uintptr_t>(p) % alignof(T) != 0) misaligned_access(p, sizeof(T), alignof(T), how);
}
}  // namespace era_sim
template <class T>
T __ldg(const T* p) { era_sim::check_aligned<T>(p, "load"); T v; std::memcpy(&v, p, sizeof(T)); return v; }
template <class T>
T __ldcs(const T* p) { return __ldg(p); }  // streaming (evict-first) hints mean nothing here
template <class T>
void __stcs(T* p, T v) { era_sim::check_aligned<T>(p, "store"); std::memcpy(p, &v, sizeof(T)); }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(unsigned x) { return __builtin_ffs(static_cast<int>(x)); }
using std::max;
using std::min;
inline long long max(long long a, int b) { return a > b ? a : b; }
inline long long min(long long a, int b) { return a < b ? a : b; }

// ---- float intrinsics: the exact operation (the GPU's fast forms differ only in low bits) -----
// Only what native/cuda uses: a kernel that needs another intrinsic fails to compile in the
// simulator build, and its stand-in belongs here.
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }

// ---- the tensor-core and async-copy PTX the GEMM uses (warp_matrix.h) ------------------------
#include "sim/warp_matrix.h"

// nvcc's cuda_runtime.h lets a kernel be passed where the runtime API takes `const void*`.
template <class... P>
cudaError_t cudaFuncSetAttribute(void (*kernel)(P...), cudaFuncAttribute attr, int value) {
  return ::cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel), attr, value);
}

// ---- kernel launches ---------------------------------------------------------------------------
namespace era_sim {

struct LaunchConfig {
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  LaunchConfig(dim3 g, dim3 b, size_t s = 0, cudaStream_t st = nullptr)
      : grid(g), block(b), smem(s), stream(st) {}
};

// kernel<<<c>>>(args...): the arguments are converted to the kernel's parameter types and copied
// now, as CUDA does at launch; the grid runs now or at graph replay (submit, cudart_sim.cc).
template <class... P, class... A>
void launch(const LaunchConfig& c, const char* name, void (*kernel)(P...), A&&... args) {
  if (!launch_fits(c.grid, c.block, c.smem, name)) return record_error(cudaErrorInvalidConfiguration);
  // Past 48 KiB a kernel needs cudaFuncSetAttribute(MaxDynamicSharedMemorySize) first, as on a GPU.
  if (c.smem > 48 * 1024 && c.smem > static_cast<size_t>(max_dynamic_shared_memory(reinterpret_cast<const void*>(kernel)))) {
    std::fprintf(stderr, "era-sim: %s asks for %zu bytes of dynamic shared memory without the opt-in\n", name, c.smem);
    return record_error(cudaErrorInvalidValue);
  }
  auto params = std::make_shared<std::tuple<std::decay_t<P>...>>(std::forward<A>(args)...);
  submit(c.stream, [c, name, kernel, params] {
    const std::function<void()> body = [&] { std::apply(kernel, *params); };
    if (!run_grid(c.grid, c.block, c.smem, name, body)) record_error(cudaErrorLaunchFailure);
  });
}

}  // namespace era_sim
